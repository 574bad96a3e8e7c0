"""HA: two automation Alertmanagers in a gossip cluster (and two people's), two responder replicas on one
PostgreSQL ledger.

Each automation Alertmanager delivers every alert to both responders (two webhook configs), so the same
occurrence reaches the ledger several times; each mitigation must still happen exactly once. The responders
reach the bot's PostgreSQL database through a TCP proxy, so that it can blip for them alone; their notices
promise an update every 30 s, which must be posted on time, once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from stack.observe import FiringAlert, step
from stack.sinks import Received
from tests.e2e.conftest import E2E, start_e2e
from tests.support import databases
from tests.support.tcpproxy import TcpProxy, tcp_proxy

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.postgres]
UPDATE_SECONDS = 30.0
GHOST_FOR_SECONDS = 5.0  # alerts/rules/ghost-positions.yml


@pytest.fixture(scope="module")
def ha(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2E]:
    problem = databases.postgres_problem()
    if problem is not None:
        if databases.postgres_required():
            pytest.fail(f"REQUIRE_POSTGRES=1 but {problem}", pytrace=False)
        pytest.skip(f"PostgreSQL legs SKIPPED: {problem}")
    tmp_path = tmp_path_factory.mktemp("ha")
    with (
        databases.temporary_database("tbbot") as bot_url,
        databases.temporary_database("tbledger") as ledger_url,
        tcp_proxy(make_url(bot_url).host or "127.0.0.1", make_url(bot_url).port or 5432) as proxy,
    ):
        through_proxy = make_url(bot_url).set(host="127.0.0.1", port=proxy.port).render_as_string(False)
        responder = {"notify": {"next_update_minutes": UPDATE_SECONDS / 60}}
        for e2e in start_e2e(tmp_path, bot_url, ledger_url, alertmanagers=2, responders=2,
                             responder_bot_db_url=through_proxy, responder=responder):
            e2e.bot_proxy = proxy  # type: ignore[attr-defined]
            yield e2e


def test_each_mitigation_happens_exactly_once(ha: E2E) -> None:
    assert len(ha.stack.urls.alertmanagers) == 2 and len(ha.stack.urls.responders) == 2
    assert len(ha.stack.urls.automation_alertmanagers) == 2
    ha.inject("ghost", profile="p-1", cause="stale-local-state")
    ha.inject("stale-orders", profile="p-3", count=4, age_seconds=1200, missing_at_broker=2, older_than_24h=2)
    ha.wait_for("p-1 deactivated", lambda: ha.observer.profile_status("p-1") == "inactive", 120)
    ha.wait_for("p-3's orders quarantined", lambda: ha.observer.quarantined("p-3") == 2, 150)

    # duplicates did reach the ledger (both Alertmanagers -> both responders) and were absorbed
    def duplicates_seen() -> bool:
        repeats = ha.observer.query('sum(tradingbot_responder_alerts_total{new="false"})')
        return bool(repeats) and float(repeats[0]["value"][1]) > 0

    ha.wait_for("a duplicate delivery recorded as a repeat", duplicates_seen, 60)
    accepted = ha.observer.query('tradingbot_responder_notifications_total{outcome="accepted"} > 0')
    assert len(accepted) == 2, "both replicas received deliveries"

    for alertname, profile, mitigation in (
        ("GhostPosition", "p-1", "deactivate"),
        ("StalePendingOrders", "p-3", "quarantine"),
    ):
        runs = [r for r in ha.runs(alertname, profile=profile) if r["alert"]["status"] == "firing"]
        assert len(runs) == 1, f"{alertname}: one run for one occurrence, got {len(runs)}"
        done = step(runs[0], mitigation)
        assert done is not None and done["state"] == "succeeded" and done["attempts"] == 1
        finished = [s for s in runs[0]["steps"] if s["state"] == "succeeded"]
        assert all(s["attempts"] == 1 for s in finished), json.dumps(finished)[:500]
    assert ha.observer.quarantined("p-3") == 2
    assert {ha.observer.profile_status(p) for p in ("p-2", "p-3", "p-4", "p-5", "p-6", "p-7", "p-8")} == {"active"}
    # the second replica sees the same ledger
    other = ha.observer.__class__(
        ha.stack.urls.prometheus[0],
        ha.stack.urls.responders[1],
        ha.stack.env["RESPONDER_OPERATOR_TOKEN"],
        ha.bot,
        ha.observer.sinks,
        ha.session,
    )
    assert [r["id"] for r in other.runs("GhostPosition")] == [r["id"] for r in ha.observer.runs("GhostPosition")]


def test_a_bot_database_blip_during_the_ghost_playbook_is_retried_and_mitigated_after_it(ha: E2E) -> None:
    """The bot DB goes away for the responders (connections dropped and refused) just as the ghost fires;
    the playbook's step waits in retry_wait and the profile is deactivated once the database is back. The
    run's notice promised its next update: it is posted on time, once, by one of the two replicas."""
    proxy: TcpProxy = ha.bot_proxy  # type: ignore[attr-defined]
    ha.inject("ghost", profile="p-6", cause="stale-local-state")
    ha.wait_for("GhostPosition for p-6 pending", lambda: bool(_pending(ha, "p-6")), 60)
    active_at = _pending(ha, "p-6")[0].active_at
    assert active_at is not None
    # 3 s before `for` runs out
    time.sleep(max(0.0, GHOST_FOR_SECONDS - 3 - (datetime.now(UTC) - active_at).total_seconds()))
    with proxy.blip():
        blip_started = time.monotonic()
        ha.wait_for("a step waiting for its retry", lambda: _retrying(ha, "p-6"), 60)
        time.sleep(max(0.0, 4 - (time.monotonic() - blip_started)))  # at least a 4 s blip
    blip_ended = datetime.now(UTC)
    ha.wait_for("p-6 deactivated after the blip", lambda: ha.observer.profile_status("p-6") == "inactive", 60)
    (run,) = [r for r in ha.runs("GhostPosition", profile="p-6") if r["alert"]["status"] == "firing"]
    retried = [s for s in run["steps"] if s["retries"]]
    assert retried and all(s["state"] == "succeeded" for s in retried), json.dumps(run["steps"])[:800]
    deactivate = step(run, "deactivate")
    assert deactivate is not None and deactivate["state"] == "succeeded"
    assert datetime.fromisoformat(deactivate["finished_at"]) >= blip_ended
    # the Next Update the notice promised is posted when due, once across the two replicas
    ha.wait_for("the notice", lambda: (step(_run(ha, "p-6"), "notify") or {}).get("state") == "succeeded", 30)
    notify = step(_run(ha, "p-6"), "notify")
    assert notify is not None
    promised = datetime.fromisoformat(notify["output"]["next_update"])
    ha.wait_for("update 1 for p-6", lambda: bool(_updates(ha, "p-6")), UPDATE_SECONDS + 30)
    time.sleep(3)  # a second replica posting it too would show now
    updates = _updates(ha, "p-6")
    assert len(updates) == 1, [u.body for u in updates]
    late = (updates[0].at - promised).total_seconds()
    assert -0.5 <= late <= 5, late


def _pending(ha: E2E, profile: str) -> list[FiringAlert]:
    pending = ha.observer.alerts("pending")
    return [a for a in pending if a.name == "GhostPosition" and a.labels.get("profile") == profile]


def _run(ha: E2E, profile: str) -> dict[str, Any]:
    return next(r for r in ha.runs("GhostPosition", profile=profile) if r["alert"]["status"] == "firing")


def _retrying(ha: E2E, profile: str) -> bool:
    runs = [r for r in ha.runs("GhostPosition", profile=profile) if r["alert"]["status"] == "firing"]
    return any(s["state"] == "retry_wait" for r in runs for s in r["steps"])


def _updates(ha: E2E, profile: str) -> list[Received]:
    received = ha.observer.sinks.log.get("slack-responder")
    return [r for r in received if "— update 1" in str(r.body) and f"profile {profile}" in str(r.body)]
