"""POST /alerts at the edge: recorded Alertmanager deliveries are accepted; unauthenticated, malformed,
oversized and hostile bodies are refused or harmless and never start an action; a ledger that cannot be
written answers 503 until it can; truncated groups are fetched back from Alertmanager or raised."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, Response, jsonify, request
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from responder.ledger.schema import alerts, runs
from tests.responder.harness import Harness, harness, sections
from tests.responder.outage import ledger_outage
from tests.responder.payloads import alert, ghost_labels, notification, recorded
from tests.responder.servers import SlackCapture
from tests.support.botstate import add_account, add_profile, profile_account
from tests.support.wsgi import serve_wsgi

RECORDED_TOKEN = "recorded-webhook-token"


def count(h: Harness, table: Any) -> int:
    with h.ledger.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


@pytest.fixture
def recorded_token_responder(tmp_path: Path, db_url: str) -> Iterator[Harness]:
    with harness(tmp_path, sections(tmp_path, db_url), env={"RESPONDER_WEBHOOK_TOKEN": RECORDED_TOKEN}) as h:
        add_account(h.bot, "acct-1")
        for profile in ("p-1", "p-2"):
            add_profile(h.bot, profile, "acct-1", datetime.now(UTC))
        yield h


def post_recorded(h: Harness, name: str) -> Any:
    capture = recorded(name)
    return h.client.post(capture["path"], data=json.dumps(capture["body"]), headers=capture["headers"])


def test_recorded_alertmanager_deliveries_are_recorded_and_start_the_runbook(
    recorded_token_responder: Harness,
) -> None:
    h = recorded_token_responder
    firing = post_recorded(h, "firing")
    assert firing.status_code == 200 and firing.json["new"] == 1 and len(firing.json["runs"]) == 1
    assert post_recorded(h, "firing").json["new"] == 0
    grouped = post_recorded(h, "grouped")
    assert (grouped.json["alerts"], grouped.json["new"], len(grouped.json["runs"])) == (2, 2, 2)
    h.drain()
    assert profile_account(h.bot, "p-1") == ("acct-1", "inactive")
    assert profile_account(h.bot, "p-2") == ("acct-1", "inactive")
    resolved = post_recorded(h, "resolved")
    assert resolved.status_code == 200 and resolved.json["new"] == 1
    h.drain()
    rca = h.step(resolved.json["runs"][0], "rca")
    assert rca.state == "succeeded" and Path(rca.output["path"]).read_text().startswith("# RCA draft: GhostPosition")
    assert profile_account(h.bot, "p-1") == ("acct-1", "inactive")  # the profile stays inactive


def test_a_truncated_group_is_raised_when_alertmanager_cannot_be_asked(recorded_token_responder: Harness) -> None:
    h = recorded_token_responder
    answer = post_recorded(h, "truncated")
    assert answer.status_code == 200
    assert answer.json["truncated"] == {"recovered": 0, "unrecovered": 3}
    with h.ledger.connect() as conn:
        names = sorted(conn.execute(select(alerts.c.alertname)).scalars())
    assert names == ["ResponderTruncatedAlerts", "StalePendingOrders", "StalePendingOrders"]
    metrics = h.client.get("/metrics").text
    assert 'tradingbot_responder_truncated_alerts_total{outcome="unrecovered"} 3.0' in metrics
    assert post_recorded(h, "truncated").json["new"] == 0  # the raised occurrence is deduplicated too


@contextmanager
def fake_alertmanager(listed: list[dict[str, Any]], seen: list[list[tuple[str, str]]]) -> Iterator[str]:
    app = Flask("fake-alertmanager")

    @app.get("/api/v2/alerts")
    def alerts_api() -> Response:
        seen.append(list(request.args.items(multi=True)))
        return jsonify(listed)

    with serve_wsgi(app) as url:
        yield url


ROUTED = {"receivers": [{"name": "responder-max-alerts"}]}  # as Alertmanager's API lists a routed alert


def test_a_truncated_group_is_fetched_back_from_alertmanagers_api(tmp_path: Path) -> None:
    body = recorded("truncated")["body"]
    missing = []
    for n in (3, 4, 5):
        item = alert({"alertname": "StalePendingOrders", "severity": "sev2", "profile": f"p-{n}"})
        missing.append({**item, "status": {"state": "active", "silencedBy": [], "inhibitedBy": []}, **ROUTED})
    listed = [{**a, "status": {"state": "active"}, **ROUTED} for a in body["alerts"]] + missing
    seen: list[list[tuple[str, str]]] = []
    with fake_alertmanager(listed, seen) as am_url:
        config = sections(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite3'}",
                          responder={"alertmanager_urls": ["http://127.0.0.1:9", am_url]})
        with harness(tmp_path, config) as h:
            answer = h.post(body)
            assert answer.json["truncated"] == {"recovered": 3, "unrecovered": 0}
            assert answer.json["alerts"] == 5 and len(answer.json["runs"]) == 5
            metrics = h.client.get("/metrics").text
            assert 'tradingbot_responder_truncated_alerts_total{outcome="recovered"} 3.0' in metrics
    assert ("filter", 'alertname="StalePendingOrders"') in seen[0]
    assert ("receiver", "responder\\-max\\-alerts") in seen[0]


def test_an_invalid_alert_listed_by_alertmanager_is_counted_missing_not_a_failed_delivery(tmp_path: Path) -> None:
    body = recorded("truncated")["body"]
    listed = [{**a, "status": {"state": "active"}, **ROUTED} for a in body["alerts"]]
    valid = alert({"alertname": "StalePendingOrders", "severity": "sev2", "profile": "p-3"})
    no_name = alert({"severity": "sev2", "profile": "p-4"})
    too_long = alert({"alertname": "X" * 500, "profile": "p-5"})
    listed += [{**item, "status": {"state": "active"}, **ROUTED} for item in (valid, no_name, too_long)]
    with fake_alertmanager(listed, []) as am_url:
        config = sections(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite3'}", responder={"alertmanager_urls": [am_url]})
        with harness(tmp_path, config) as h:
            answer = h.post(body)
            assert answer.status_code == 200
            assert answer.json["truncated"] == {"recovered": 1, "unrecovered": 2}
            assert answer.json["alerts"] == 4  # the two delivered, the one fetched back, the raised truncation


def test_truncation_recovery_keeps_only_the_groups_alerts_and_counts_each_occurrence_once(tmp_path: Path) -> None:
    """Alertmanager's answer is checked: an alert of another group or receiver is never recorded or acted on;
    a re-sent truncated group counts nothing again, and a payload claiming a huge cut counts a bounded number."""
    body = recorded("truncated")["body"]
    ours = alert({"alertname": "StalePendingOrders", "severity": "sev2", "profile": "p-3"})
    other_group = alert(ghost_labels("p-9"))
    other_receiver = alert({"alertname": "StalePendingOrders", "severity": "sev2", "profile": "p-4"})
    listed = [
        {**ours, "status": {"state": "active"}, **ROUTED},
        {**other_group, "status": {"state": "active"}, **ROUTED},
        {**other_receiver, "status": {"state": "active"}, "receivers": [{"name": "slack"}]},
    ]
    with fake_alertmanager(listed, []) as am_url:
        config = sections(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite3'}", responder={"alertmanager_urls": [am_url]})
        with harness(tmp_path, config) as h:
            first = h.post(body)
            again = h.post(body)
            huge = h.post({**body, "groupKey": body["groupKey"] + "-other", "truncatedAlerts": 10**12})
            metrics = h.client.get("/metrics").text
            with h.ledger.connect() as conn:
                labels = [json.loads(row) for row in conn.execute(select(alerts.c.labels)).scalars()]
    assert first.json["truncated"] == {"recovered": 1, "unrecovered": 2}
    assert again.json["new"] == 0 and huge.status_code == 200
    assert sorted(item.get("profile", "-") for item in labels) == ["-", "-", "p-1", "p-2", "p-3"]
    assert not any(item["alertname"] == "GhostPosition" for item in labels)
    assert 'tradingbot_responder_truncated_alerts_total{outcome="recovered"} 1.0' in metrics
    assert 'tradingbot_responder_truncated_alerts_total{outcome="unrecovered"} 10002.0' in metrics


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, 401),
        ({"Authorization": "Bearer wrong-token"}, 401),
        ({"Authorization": f"Basic {RECORDED_TOKEN}"}, 401),
        ({"Authorization": "Bearer"}, 401),
    ],
)
def test_unauthenticated_deliveries_are_refused_and_record_nothing(
    recorded_token_responder: Harness, headers: dict[str, str], expected: int
) -> None:
    h = recorded_token_responder
    answer = h.client.post("/alerts", json=recorded("firing")["body"], headers=headers)
    assert answer.status_code == expected and answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert count(h, alerts) == 0


BAD_BODIES = [
    (b"{not json", "body is not JSON"),
    (b"[]", "not a JSON object"),
    (b"[" * 200_000, "not JSON"),
    (json.dumps({**notification(alert(ghost_labels())), "version": "3"}).encode(), "version"),
    (json.dumps({**notification(alert(ghost_labels())), "truncatedAlerts": -1}).encode(), "truncatedAlerts"),
    (json.dumps(notification({**alert(ghost_labels()), "labels": {"alertname": 5}})).encode(), "labels"),
    (json.dumps(notification({**alert(ghost_labels()), "labels": {"severity": "sev1"}})).encode(), "alertname"),
    (json.dumps(notification({**alert(ghost_labels()), "labels": {"alertname": "A" * 201}})).encode(), "alertname"),
    (json.dumps(notification({**alert(ghost_labels()), "startsAt": 12345})).encode(), "startsAt"),
    (json.dumps(notification({**alert(ghost_labels()), "startsAt": "2026-01-01T00:00:00"})).encode(), "startsAt"),
    (json.dumps(notification({**alert(ghost_labels()), "fingerprint": "x' OR 1=1"})).encode(), "fingerprint"),
    (json.dumps(notification(alert({**ghost_labels(), "profile": "p-1\u0000"}))).encode(), "NUL"),
    (json.dumps(notification(alert({**ghost_labels(), "profile": "\ud800"}))).encode(), "surrogate"),
    (json.dumps(notification({**alert(ghost_labels()), "labels": {"alertname": "A", "x": {"n": ["junk"]}}})).encode(),
     "labels"),
]


@pytest.mark.parametrize(("body", "message"), BAD_BODIES, ids=range(len(BAD_BODIES)))
def test_malformed_bodies_are_400_and_never_an_action(responder: Harness, body: bytes, message: str) -> None:
    answer = responder.post(body)
    assert answer.status_code == 400, answer.json
    assert message in answer.json["error"]
    assert count(responder, alerts) == 0 and count(responder, runs) == 0


def test_media_type_and_size_limits(tmp_path: Path) -> None:
    config = sections(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite3'}", responder={"max_body_bytes": 4096})
    with harness(tmp_path, config) as h:
        body = json.dumps(notification(alert(ghost_labels())))
        assert h.post(body, content_type="text/plain").status_code == 415
        huge = notification(alert({**ghost_labels(), "pad": "x" * 5000}))
        assert h.post(huge).status_code == 413
        assert count(h, alerts) == 0
        metrics = h.client.get("/metrics").text
        assert 'tradingbot_responder_notifications_total{outcome="too_large"} 1.0' in metrics
        assert 'tradingbot_responder_notifications_total{outcome="unsupported_media_type"} 1.0' in metrics


@pytest.mark.slow
def test_ledger_down_is_503_so_alertmanager_retries_then_recorded_once_it_is_back(
    responder: Harness, db_url: str, tmp_path: Path
) -> None:
    body = notification(alert(ghost_labels()))
    with ledger_outage(db_url, tmp_path):
        down = responder.post(body)
        assert down.status_code == 503
        assert responder.client.get("/health/ready").status_code == 503
        assert "tradingbot_responder_ledger_up 0.0" in responder.client.get("/metrics").text
    answer = responder.post(body)
    assert answer.status_code == 200 and answer.json["new"] == 1
    assert responder.client.get("/health/ready").status_code == 200
    metrics = responder.client.get("/metrics").text
    assert 'tradingbot_responder_notifications_total{outcome="ledger_unavailable"} 1.0' in metrics
    assert "tradingbot_responder_ledger_up 1.0" in metrics


@pytest.mark.parametrize("starts_at", [datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)])
def test_a_start_at_the_edge_of_the_calendar_is_recorded_never_a_server_error(
    responder: Harness, starts_at: datetime
) -> None:
    """The occurrence window around startsAt stays within the calendar (year 1 minus 15 s was a 500)."""
    answer = responder.post(notification(alert(ghost_labels(), starts_at=starts_at)))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert len(answer.json["runs"]) == 1


def test_health_metrics_and_openapi(responder: Harness) -> None:
    assert responder.client.get("/health/live").json == {"status": "ok"}
    ready = responder.client.get("/health/ready")
    assert ready.status_code == 200 and ready.json["checks"] == {"playbooks_loaded": True, "ledger_reachable": True}
    spec = responder.client.get("/openapi.json").json
    assert spec["openapi"].startswith("3.") and "/alerts" in spec["paths"]
    assert "/profiles/{profile_id}/enable" in spec["paths"]
    assert "Notification" in spec["components"]["schemas"]
    metrics = responder.client.get("/metrics").text
    for name in ("notifications_total", "ledger_backlog", "budget_remaining", "mode", "ledger_up"):
        assert f"tradingbot_responder_{name}" in metrics
    # every action's failure counter starts at 0, so MitigationFailed's increase() sees the first failure
    assert 'tradingbot_responder_steps_total{action="deactivate_profile",result="failed"} 0.0' in metrics


def test_notifications_never_leak_the_webhook_url_or_crash_when_slack_fails(
    responder: Harness, slack: tuple[SlackCapture, str]
) -> None:
    slack[0].status = 500
    (run_id,) = responder.post(notification(alert(ghost_labels()))).json["runs"]
    responder.drain()
    notify = responder.step(run_id, "notify")
    assert notify.state == "failed" and notify.error == "webhook answered HTTP 500"
    assert slack[1] not in json.dumps([s.as_dict() for s in responder.steps()])
    assert responder.step(run_id, "reconcile").state == "awaiting_approval"  # continue_on_failure


HOSTILE = st.sampled_from([
    "'; DROP TABLE profiles; --", "p-1' OR '1'='1", "%", "_", "\\", '"', "${jndi:ldap://x}", "<!channel>",
    "{{ 7*7 }}", "{% raw %}", "\u202e\u0000", "\u03a9\u2248\u00e7\u221a\u222b\u02dc\u00b5", "🔥" * 50, "x" * 20_000,
])
LABEL_TEXT = st.text(max_size=200) | HOSTILE
JSON_JUNK = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
HYPOTHESIS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@HYPOTHESIS
@given(extra=st.dictionaries(st.text(min_size=1, max_size=60), LABEL_TEXT, max_size=5), profile=LABEL_TEXT)
def test_hostile_labels_are_rejected_or_harmless(responder: Harness, extra: dict[str, str], profile: str) -> None:
    assume(profile not in ("p-1", "p-2"))
    labels = {**extra, **ghost_labels(), "profile": profile}
    answer = responder.post(notification(alert(labels)))
    assert answer.status_code in (200, 400)
    responder.drain()
    assert profile_account(responder.bot, "p-1") == ("acct-1", "active")
    assert profile_account(responder.bot, "p-2") == ("acct-1", "active")
    if answer.status_code == 200:
        (run_id,) = answer.json["runs"]
        assert responder.step(run_id, "deactivate").state == "failed"  # no such profile: nothing changed


@HYPOTHESIS
@given(junk=JSON_JUNK)
def test_junk_bodies_are_400_and_junk_in_unknown_fields_is_ignored(responder: Harness, junk: Any) -> None:
    assert responder.post(json.dumps(junk)).status_code == 400
    body = {**notification(alert({"alertname": "Unrouted"})), "routeLabels": junk, "notification_reason": junk}
    assert responder.post(body).status_code == 200
    assert count(responder, runs) == 0


def test_label_values_cannot_mention_the_channel_in_slack(responder: Harness, slack: tuple[SlackCapture, str]) -> None:
    labels = {**ghost_labels(), "symbol": "<!channel> <https://evil.example|click>"}
    responder.post(notification(alert(labels, annotations={"summary": "ghost <!here> & co"})))
    responder.drain()
    (message,) = slack[0].messages
    assert "<!channel>" not in message and "<!here>" not in message and "<https://" not in message
    assert "&lt;!channel&gt;" in message and "ghost &lt;!here&gt; &amp; co" in message
