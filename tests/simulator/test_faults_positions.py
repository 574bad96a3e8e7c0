"""Position faults: ghost (three root causes), phantom, fill race; reconciliation and reset restore parity."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests
from sqlalchemy import select

from sources.botdb import orders, positions
from sources.broker import OrderMissing
from tests.simulator.helpers import (
    accounts_of,
    bearer,
    bot_db,
    broker,
    broker_positions,
    open_positions,
    order_row,
    wait_for,
)
from tests.support.simulator import RunningSimulator


def _in_parity(sim: RunningSimulator, session: requests.Session) -> bool:
    with bot_db(sim) as engine:
        return broker_positions(sim, session, accounts_of(engine)) == open_positions(engine)


def _exit_orders(sim: RunningSimulator, profile: str, symbol: str) -> list[Any]:
    with bot_db(sim) as engine, engine.connect() as conn:
        return list(conn.execute(select(orders).where(
            orders.c.profile_id == profile, orders.c.symbol == symbol, orders.c.client_order_id.like("%-exit-%"),
            orders.c.status != "filled")).all())


def _position(sim: RunningSimulator, position_id: int) -> Any:
    with bot_db(sim) as engine, engine.connect() as conn:
        return conn.execute(select(positions).where(positions.c.id == position_id)).one()


def test_ghost_exchange_timeout_leaves_an_exit_the_broker_never_saw(sim: RunningSimulator,
                                                                    session: requests.Session) -> None:
    result = sim.inject("ghost", cause="exchange-timeout")
    assert (result["profile"], result["account"], result["cause"]) == ("p-1", "acct-1", "exchange-timeout")
    client = broker(sim, session, result["account"])
    held = client.get_position(result["symbol"])
    assert held is not None and held.qty == result["qty"] == result["broker_qty"]
    row = _position(sim, result["position_id"])
    assert row.status == "closed" and row.closed_at is not None
    exit_order = result["exit_order"]
    assert exit_order["status"] == "expired" and exit_order["side"] == "sell" and exit_order["broker_order_id"] is None
    with pytest.raises(OrderMissing):
        client.get_order_by_client_id(exit_order["client_order_id"])
    assert len(_exit_orders(sim, "p-1", result["symbol"])) == 1
    assert not _in_parity(sim, session)


def test_ghost_rejected_exit_is_rejected_at_the_broker(sim: RunningSimulator, session: requests.Session) -> None:
    result = sim.inject("ghost", cause="rejected-exit", profile="p-4")
    assert result["qty"] < 0, "p-4 is short in the seed, so the exit is a buy"
    exit_order = result["exit_order"]
    at_broker = broker(sim, session, result["account"]).get_order_by_client_id(exit_order["client_order_id"])
    assert at_broker.status == "rejected" and at_broker.side == "buy" and at_broker.filled_qty == 0
    with bot_db(sim) as engine:
        assert order_row(engine, exit_order["id"]).status == "rejected"


def test_ghost_stale_local_state_has_no_exit_order(sim: RunningSimulator, session: requests.Session) -> None:
    result = sim.inject("ghost", cause="stale-local-state", profile="p-3")
    assert result["exit_order"] is None
    assert _exit_orders(sim, "p-3", result["symbol"]) == []
    assert broker(sim, session, result["account"]).get_position(result["symbol"]) is not None
    assert _position(sim, result["position_id"]).status == "closed"


def test_ghost_with_quantity_books_a_new_broker_position(sim: RunningSimulator, session: requests.Session) -> None:
    result = sim.inject("ghost", account="acct-2", symbol="SPY", qty=7)
    assert (result["profile"], result["symbol"], result["qty"]) == ("p-2", "SPY", 7)
    held = broker(sim, session, "acct-2").get_position("SPY")
    assert held is not None and held.qty == 7
    with bot_db(sim) as engine:
        assert ("acct-2", "SPY") not in open_positions(engine)


def test_reconcile_reopens_the_ghost_and_reset_restores_parity(sim: RunningSimulator,
                                                               session: requests.Session) -> None:
    result = sim.inject("ghost")
    service = bearer(sim.env["SUPABASE_SERVICE_ROLE_KEY"])
    changed = session.post(f"{sim.bot_url}/admin/reconcile", headers=service, timeout=5).json()
    assert [(r["profile"], r["symbol"], r["qty"]) for r in changed["reopened"]] == [
        (result["profile"], result["symbol"], result["qty"])]
    assert _in_parity(sim, session)
    sim.inject("ghost", profile="p-2")
    assert not _in_parity(sim, session)
    sim.reset()
    assert _in_parity(sim, session)
    assert sim.faults()["active"] == {}


def test_phantom_is_open_in_the_bot_and_flat_at_the_broker(sim: RunningSimulator, session: requests.Session) -> None:
    result = sim.inject("phantom")
    assert result["profile"] == "p-2"
    assert broker(sim, session, result["account"]).get_position(result["symbol"]) is None
    assert _position(sim, result["position_id"]).status == "open"
    service = bearer(sim.env["SUPABASE_SERVICE_ROLE_KEY"])
    changed = session.post(f"{sim.bot_url}/admin/reconcile", headers=service, timeout=5).json()
    assert [(c["profile"], c["symbol"]) for c in changed["closed"]] == [(result["profile"], result["symbol"])]
    assert _in_parity(sim, session)


def test_fill_race_shows_at_the_broker_first_then_in_the_bot(sim: RunningSimulator, session: requests.Session) -> None:
    result = sim.inject("fill-race", account="acct-3", symbol="SPY", qty=4, seconds=1.5)
    held = broker(sim, session, "acct-3").get_position("SPY")
    assert held is not None and held.qty == 4
    with bot_db(sim) as engine:
        assert ("acct-3", "SPY") not in open_positions(engine)
        assert order_row(engine, result["order"]["id"]).status == "new"
        wait_for(lambda: open_positions(engine).get(("acct-3", "SPY")) == 4, timeout=10)
        assert order_row(engine, result["order"]["id"]).status == "filled"
    assert _in_parity(sim, session)
    assert "fill-race" not in sim.faults()["active"]


def test_a_partial_fill_race_leaves_the_order_working_on_both_sides(sim: RunningSimulator,
                                                                     session: requests.Session) -> None:
    result = sim.inject("fill-race", account="acct-3", symbol="SPY", qty=10, seconds=1.5, filled_share=0.4)
    client = broker(sim, session, "acct-3")
    held = client.get_position("SPY")
    assert held is not None and held.qty == 4 and result["filled_qty"] == 4
    (order,) = client.list_orders(status="open", symbols="SPY")
    assert (order.status, order.filled_qty, order.qty) == ("partially_filled", 4, 10)
    with bot_db(sim) as engine:
        wait_for(lambda: open_positions(engine).get(("acct-3", "SPY")) == 4, timeout=10)
        assert order_row(engine, result["order"]["id"]).status == "partially_filled"
    assert _in_parity(sim, session)


def test_reset_cancels_a_pending_fill_race(sim: RunningSimulator, session: requests.Session) -> None:
    sim.inject("fill-race", symbol="SPY", seconds=1)
    sim.reset()
    time.sleep(1.5)
    with bot_db(sim) as engine:
        assert ("acct-1", "SPY") not in open_positions(engine)
    assert _in_parity(sim, session)
