"""HA: two automation Alertmanagers in a gossip cluster (and two people's), two responder replicas on one
PostgreSQL ledger.

Each automation Alertmanager delivers every alert to both responders (two webhook configs), so the same
occurrence reaches the ledger several times; each mitigation must still happen exactly once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from stack.observe import step
from tests.e2e.conftest import E2E, start_e2e
from tests.support import databases

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.postgres]


@pytest.fixture(scope="module")
def ha(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2E]:
    problem = databases.postgres_problem()
    if problem is not None:
        if databases.postgres_required():
            pytest.fail(f"REQUIRE_POSTGRES=1 but {problem}", pytrace=False)
        pytest.skip(f"PostgreSQL legs SKIPPED: {problem}")
    tmp_path = tmp_path_factory.mktemp("ha")
    with databases.temporary_database("tbbot") as bot_url, databases.temporary_database("tbledger") as ledger_url:
        yield from start_e2e(tmp_path, bot_url, ledger_url, alertmanagers=2, responders=2)


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
