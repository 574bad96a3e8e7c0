"""The real Alertmanager on alerts/alertmanager.yml: inhibitions, deliveries, credentials, rendered texts.

amtool cannot test inhibition or what a receiver is actually sent; this runs prometheus-alertmanager on a
local copy (receiver URLs and secret files rewritten as docs/alerting.md describes), posts the alerts the
promtool tests expect the rules to produce, and looks at what reaches each receiver.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.alerts.amstack import (
    Alertmanager,
    CaptureServer,
    Delivery,
    local_copy,
    promtool_alert,
    running_alertmanager,
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("prometheus-alertmanager") is None, reason="prometheus-alertmanager missing"),
]

GHOST = promtool_alert("ghost-positions.yml", "GhostPosition", account="acct-1")
ESCALATION = promtool_alert("stale-orders.yml", "StaleBacklogEscalation")
CONTROL_DOWN = promtool_alert("auth.yml", "TradingControlEndpointsDown")
BOT_DOWN = promtool_alert("bot-health.yml", "TradingBotDown")
WATCHDOG = promtool_alert("pipeline.yml", "Watchdog")
SOURCES = [GHOST, ESCALATION, CONTROL_DOWN, BOT_DOWN, WATCHDOG]

MISMATCH_GHOST = promtool_alert("ghost-positions.yml", "PositionMismatch")
MISMATCH_GHOST = {**MISMATCH_GHOST, "labels": {**MISMATCH_GHOST["labels"], "account": "acct-1", "symbol": "AAPL"}}
MISMATCH_OTHER = promtool_alert("ghost-positions.yml", "PositionMismatch")  # acct-3 ETHUSD: no ghost there
STALE = promtool_alert("stale-orders.yml", "StalePendingOrders")
SPIKE = promtool_alert("auth.yml", "AuthFailureSpike")
NOT_READY = promtool_alert("bot-health.yml", "TradingBotNotReady")
INHIBITED = [MISMATCH_GHOST, STALE, SPIKE, NOT_READY]


def _key(alert: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(alert["labels"].items()))


def _delivered(deliveries: list[Delivery]) -> set[tuple[tuple[str, str], ...]]:
    return {_key(alert) for d in deliveries for alert in d.body["alerts"]}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Alertmanager, CaptureServer, dict[str, str]]]:
    """Alertmanager with the sources firing first, then the alerts they inhibit and one they do not."""
    directory: Path = tmp_path_factory.mktemp("alertmanager")
    with CaptureServer() as capture:
        config, secrets = local_copy(directory, capture.base_url)
        with running_alertmanager(config, directory) as alertmanager:
            alertmanager.post_alerts(SOURCES)
            capture.wait_for("sources at the responder", lambda: len(_delivered(capture.received("responder"))) == 5)
            alertmanager.post_alerts([*INHIBITED, MISMATCH_OTHER])
            capture.wait_for(
                "the uninhibited mismatch", lambda: _key(MISMATCH_OTHER) in _delivered(capture.received("responder"))
            )
            capture.wait_for("sev1 pages", lambda: len(capture.received("pagerduty")) >= 3)
            capture.wait_for("sev1 chat", lambda: len(capture.received("slack")) >= 3)
            yield alertmanager, capture, secrets


def test_sev1_and_cause_alerts_inhibit_their_targets(stack: tuple[Alertmanager, CaptureServer, dict[str, str]]) -> None:
    alertmanager, _, _ = stack
    state = {_key(a): a["status"] for a in alertmanager.alerts()}
    for alert in INHIBITED:
        assert state[_key(alert)]["state"] == "suppressed", alert["labels"]
        assert state[_key(alert)]["inhibitedBy"], alert["labels"]
    for alert in [*SOURCES, MISMATCH_OTHER]:
        assert state[_key(alert)]["state"] == "active", alert["labels"]


def test_inhibited_alerts_do_not_reach_the_responder_either(
    stack: tuple[Alertmanager, CaptureServer, dict[str, str]],
) -> None:
    _, capture, _ = stack
    time.sleep(1)  # the uninhibited alert posted with them has long been delivered
    webhooks = [d for d in capture.deliveries if d.receiver in ("responder", "heartbeat", "tickets")]
    assert _delivered(webhooks) & {_key(a) for a in INHIBITED} == set()


def test_the_responder_gets_every_other_alert_alone_with_its_bearer_token(
    stack: tuple[Alertmanager, CaptureServer, dict[str, str]],
) -> None:
    _, capture, secrets = stack
    deliveries = capture.received("responder")
    assert _delivered(deliveries) == {_key(a) for a in [*SOURCES, MISMATCH_OTHER]}
    assert all(len(d.body["alerts"]) == 1 for d in deliveries)
    assert {d.headers["Authorization"] for d in deliveries} == {f"Bearer {secrets['responder_token']}"}


def test_the_watchdog_pings_the_heartbeat_only(stack: tuple[Alertmanager, CaptureServer, dict[str, str]]) -> None:
    _, capture, secrets = stack
    heartbeat = capture.received("heartbeat")
    assert _delivered(heartbeat) == {_key(WATCHDOG)}
    assert heartbeat[0].headers["Authorization"] == f"Bearer {secrets['heartbeat_token']}"
    assert _key(WATCHDOG) not in _delivered(capture.received("tickets"))


def test_a_ghost_pages_with_the_communication_template(
    stack: tuple[Alertmanager, CaptureServer, dict[str, str]],
) -> None:
    _, capture, secrets = stack
    pages = [d.body for d in capture.received("pagerduty") if d.body["payload"]["class"] == "GhostPosition"]
    assert len(pages) == 1
    page = pages[0]
    annotations = GHOST["annotations"]
    assert page["routing_key"] == secrets["pagerduty_routing_key"]
    assert page["event_action"] == "trigger"
    assert page["payload"]["severity"] == "critical"
    assert page["payload"]["summary"] == f"[FIRING] SEV-1: {annotations['summary']}"
    assert page["payload"]["component"] == "profile p-42"
    details = page["payload"]["custom_details"]
    assert details["Incident"] == annotations["summary"]
    assert details["Severity"] == "SEV-1"
    assert details["Impact"] == f"account=acct-1 profile=p-42 symbol=AAPL: {annotations['description']}"
    assert details["Mitigation"] == annotations["automation"]
    assert details["Next Update"].endswith(" UTC (start + 30 min)")
    assert details["Runbook"] == "https://github.com/bytelyst/tradingbot-incident-automation/blob/main/docs/runbooks.md#ghostposition"


def test_a_ghost_reaches_chat_with_the_communication_template(
    stack: tuple[Alertmanager, CaptureServer, dict[str, str]],
) -> None:
    _, capture, _ = stack
    messages = [
        attachment
        for d in capture.received("slack")
        for attachment in d.body["attachments"]
        if "Ghost position" in attachment["title"]
    ]
    assert len(messages) == 1
    assert messages[0]["title"] == f"[FIRING:1] SEV-1 {GHOST['annotations']['summary']}"
    assert messages[0]["color"] == "danger"
    lines = messages[0]["text"].splitlines()
    assert [line.split(":*")[0] for line in lines] == [
        "*Incident",
        "*Severity",
        "*Impact",
        "*Mitigation",
        "*Next Update",
        "*Runbook",
    ]
    assert "*Severity:* SEV-1" in lines


# Last in the module: it resolves the ghost in the shared Alertmanager (which lifts its inhibition).
def test_a_resolved_ghost_is_sent_to_the_responder(stack: tuple[Alertmanager, CaptureServer, dict[str, str]]) -> None:
    alertmanager, capture, _ = stack
    alertmanager.post_alerts([{**GHOST, "endsAt": datetime.now(UTC).isoformat()}])

    def resolved() -> bool:
        return any(
            d.body["status"] == "resolved" and _key(d.body["alerts"][0]) == _key(GHOST)
            for d in capture.received("responder")
        )

    capture.wait_for("the resolved ghost at the responder", resolved, timeout=30)
