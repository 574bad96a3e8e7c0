"""A bot of another shape through the real pipeline (simulator, exporters, Prometheus, Alertmanager, responder):
the strategy-table bot (config/shapes/strategy.yml; normalised statuses, orders reached through trade
proposals, updated_at only on change, an nginx access log). Its ghost, stale and auth faults raise their
alerts, the ghost is mitigated by pausing the strategy through the mapping, and no resting limit order pages."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from tests.e2e.conftest import E2E, start_e2e
from tests.support.shapes import shape_sections

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def e2e(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2E]:
    tmp_path = tmp_path_factory.mktemp("e2e-strategy")
    yield from start_e2e(tmp_path, f"sqlite:///{tmp_path / 'bot.sqlite3'}", f"sqlite:///{tmp_path / 'ledger.sqlite3'}",
                         extra=shape_sections("strategy"))


def test_the_strategy_bots_ghost_stale_and_auth_faults_page_and_are_handled(e2e: E2E) -> None:
    e2e.reset()
    started = datetime.now(UTC)
    ghost = e2e.inject("ghost", profile="p-1", cause="exchange-timeout")
    e2e.inject("stale-orders", profile="p-3", count=5, age_seconds=1200, missing_at_broker=2, older_than_24h=2)
    e2e.inject("auth-failures", share=0.6, channel="both", reason="expired")

    e2e.wait_for("GhostPosition for p-1", lambda: bool(e2e.firing("GhostPosition", profile="p-1")), 90)
    e2e.wait_for("strategy p-1 paused", lambda: e2e.observer.profile_status("p-1") == "paused", 30)
    assert e2e.observer.entries_stopped("p-1")
    e2e.wait_for("StalePendingOrders for p-3", lambda: bool(e2e.firing("StalePendingOrders", profile="p-3")), 120)
    e2e.wait_for("2 orders of p-3 quarantined", lambda: e2e.observer.quarantined("p-3") == 2, 30)
    e2e.wait_for("AuthFailureSpike", lambda: bool(e2e.firing("AuthFailureSpike")), 120)

    fired = e2e.fired_since(started)
    assert {"GhostPosition", "StalePendingOrders", "AuthFailureSpike"} <= fired
    assert e2e.fired_since(started, "sev1") == {"GhostPosition"}  # no resting limit order became a backlog
    stale = e2e.firing("StalePendingOrders")
    assert {a.labels["profile"] for a in stale} == {"p-3"}
    assert [a.labels["symbol"] for a in e2e.firing("GhostPosition")] == [ghost["symbol"]]
    assert "UnmappedBotValues" not in fired
