"""The stale-orders fault: stuck working orders, some unknown to the broker, some older than a day."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
import requests

from simulator.bot.sync import sync_interval
from sources.broker import OrderMissing
from tests.simulator.conftest import SHARED_STALE_AFTER_SECONDS
from tests.simulator.helpers import bot_db, broker, order_row, wait_for
from tests.support.simulator import RunningSimulator


def _health(sim: RunningSimulator, session: requests.Session) -> dict[str, object]:
    body: dict[str, object] = session.get(f"{sim.bot_url}/health", timeout=5).json()
    return body


def test_stale_orders_show_in_the_backlog_and_at_the_broker(sim: RunningSimulator, session: requests.Session) -> None:
    result = sim.inject("stale-orders", profile="p-1,p-2", count=6, age_seconds=600, missing_at_broker=3,
                        older_than_24h=2)
    assert result["profiles"] == ["p-1", "p-2"] and result["accounts"] == ["acct-1", "acct-2"]
    assert len(result["order_ids"]) == 6 and len(result["missing_at_broker"]) == 3
    assert result["older_than_24h"] == result["order_ids"][:2]
    assert _health(sim, session)["stale_backlog"] == 6
    now = datetime.now(UTC)
    with bot_db(sim) as engine:
        for entry in result["orders"]:
            row = order_row(engine, entry["id"])
            age = (now - row.updated_at).total_seconds()
            assert row.status == "pending_new"
            assert age > 24 * 3600 if entry["id"] in result["older_than_24h"] else 590 < age < 700
            client = broker(sim, session, entry["account"])
            if entry["id"] in result["missing_at_broker"]:
                with pytest.raises(OrderMissing):
                    client.get_order_by_client_id(entry["client_order_id"])
            else:
                at_broker = client.get_order_by_client_id(entry["client_order_id"])
                assert at_broker.status == "new" and at_broker.id == row.broker_order_id


def test_stale_orders_are_not_refreshed_by_the_sync(sim: RunningSimulator, session: requests.Session) -> None:
    """Injected 7 s old with an 8 s SLA: still fresh, yet the sync (every 2 s) must leave them to go stale."""
    result = sim.inject("stale-orders", count=2, age_seconds=SHARED_STALE_AFTER_SECONDS - 1)
    assert _health(sim, session)["stale_backlog"] == 0
    with bot_db(sim) as engine:
        before = {order_id: order_row(engine, order_id).updated_at for order_id in result["order_ids"]}
        time.sleep(sync_interval(SHARED_STALE_AFTER_SECONDS) + 0.5)
        assert {order_id: order_row(engine, order_id).updated_at for order_id in result["order_ids"]} == before
    assert _health(sim, session)["stale_backlog"] == 2


def test_cancelling_a_stuck_order_at_the_broker_resolves_it(sim: RunningSimulator, session: requests.Session) -> None:
    result = sim.inject("stale-orders", count=2)
    live = result["orders"][0]
    broker(sim, session, live["account"]).cancel_order(live["broker_order_id"])
    with bot_db(sim) as engine:
        wait_for(lambda: order_row(engine, live["id"]).status == "canceled", timeout=10)
        assert order_row(engine, result["orders"][1]["id"]).status == "pending_new"
    assert _health(sim, session)["stale_backlog"] == 1


def test_many_stale_orders_degrade_readiness(sim: RunningSimulator, session: requests.Session) -> None:
    sim.inject("stale-orders", count=21, profile=["p-1", "p-2", "p-3"])
    ready = session.get(f"{sim.bot_url}/health/ready", timeout=5)
    assert ready.status_code == 503 and "stale_backlog" in ready.json()["degraded"]
    assert _health(sim, session)["stale_backlog"] == 21
    sim.reset()
    assert session.get(f"{sim.bot_url}/health/ready", timeout=5).status_code == 200


def test_pending_cancel_orders_stay_pending_cancel_at_the_broker(sim: RunningSimulator,
                                                                 session: requests.Session) -> None:
    result = sim.inject("stale-orders", count=1, status="pending_cancel")
    entry = result["orders"][0]
    assert broker(sim, session).get_order_by_client_id(entry["client_order_id"]).status == "pending_cancel"
