"""Settling: a ghost-looking instrument with an order in flight, against the simulator (real HTTP, real DB)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests

from exporters.ghost_positions import GhostPositionCollector
from exporters.settling import SettleWindow
from sources.broker import BrokerClient, BrokerOrder, BrokerUnavailable
from tests.exporters.conftest import Exporter, make_exporter
from tests.support.simulator import RunningSimulator

BOUND = 1.5  # exporters.ghost_settle_seconds of these tests


@pytest.fixture
def short(sim: RunningSimulator) -> Iterator[Exporter]:
    made = make_exporter(sim, ghost_settle_seconds=BOUND)
    yield made
    made.close()


def broker_of(exporter: Exporter, account: str) -> BrokerClient:
    ghost = next(s for s in exporter.collector._sources if isinstance(s, GhostPositionCollector))
    key_id = next(a.key_id for a in exporter.bot.accounts() if a.id == account)
    assert key_id is not None
    return ghost._broker_for(key_id)


def rest_exit_order(client: BrokerClient, symbol: str, qty: float) -> dict[str, object]:
    """A sell limit far above the market: accepted, working, never filled."""
    body = {"symbol": symbol, "qty": str(qty), "side": "sell", "type": "limit", "time_in_force": "gtc",
            "limit_price": "999999"}
    answer = requests.post(f"{client._base}/v2/orders", json=body, headers=client._headers, timeout=5)
    answer.raise_for_status()
    order: dict[str, object] = answer.json()
    assert order["status"] in ("new", "accepted")
    return order


def state(exporter: Exporter, account: str, symbol: str, profile: str) -> tuple[float | None, float | None]:
    scrape = exporter.scrape()
    labels = {"account": account, "symbol": symbol, "profile": profile}
    return scrape.value("tradingbot_ghost_position", **labels), scrape.value("tradingbot_position_settling", **labels)


def test_an_exit_order_resting_at_the_broker_settles_for_the_bound_then_is_a_ghost(short: Exporter) -> None:
    ghost = short.sim.inject("ghost", profile="p-1", symbol="TSLA", qty=7)  # its exit evidence is 30 s old
    account = ghost["account"]
    assert state(short, account, "TSLA", "p-1") == (1.0, None)  # nothing in flight: a ghost at once
    rest_exit_order(broker_of(short, account), "TSLA", 7)
    assert state(short, account, "TSLA", "p-1") == (None, 1.0)  # an order event at the broker just now
    time.sleep(BOUND + 1.1)  # the broker's Date header has whole seconds
    assert state(short, account, "TSLA", "p-1") == (1.0, None)  # resting unfilled is exposure


def test_a_partial_fill_race_settles_and_is_never_a_ghost(short: Exporter) -> None:
    race = short.sim.inject("fill-race", profile="p-1", symbol="SPY", qty=10, seconds=BOUND / 2, filled_share=0.4)
    account = race["account"]
    assert state(short, account, "SPY", "p-1") == (None, 1.0)  # the broker's order is partially filled, working
    deadline = time.monotonic() + 10
    while short.samples("tradingbot_position_settling") and time.monotonic() < deadline:
        assert short.samples("tradingbot_ghost_position") == {}
        time.sleep(0.2)
    assert short.samples("tradingbot_ghost_position") == {} == short.samples("tradingbot_position_settling")
    assert short.value("tradingbot_bot_position_quantity", account=account, symbol="SPY") == 4


class OrdersUnreadable(BrokerClient):
    """A real client whose order list never answers (positions still read over HTTP)."""

    def list_orders(self, status: str = "open", limit: int = 500, symbols: str | None = None) -> list[BrokerOrder]:
        raise BrokerUnavailable("timeout", "GET /v2/orders: read timed out")


def test_a_failed_order_read_is_no_evidence_and_the_bot_s_orders_still_count(short: Exporter) -> None:
    source = next(s for s in short.collector._sources if isinstance(s, GhostPositionCollector))

    def broker_for(key: str) -> BrokerClient:
        client = source._broker_for(key)
        client.__class__ = OrdersUnreadable
        return client

    collector = GhostPositionCollector(short.bot, broker_for, 4, 8.0, window=SettleWindow(BOUND))
    race = short.sim.inject("fill-race", profile="p-1", symbol="SPY", qty=3, seconds=30)
    labels = {"account": race["account"], "symbol": "SPY", "profile": "p-1"}
    try:
        families = {f.name: f for f in collector.collect()}
        assert labels in [s.labels for s in families["tradingbot_position_settling"].samples]  # the bot's row
        errors = {s.labels["kind"]: s.value for s in families["tradingbot_broker_errors"].samples}
        assert errors["timeout"] == 1
        time.sleep(BOUND + 0.5)
        families = {f.name: f for f in collector.collect()}
        assert labels in [s.labels for s in families["tradingbot_ghost_position"].samples]  # a fill not recorded
        assert not families["tradingbot_position_settling"].samples
    finally:
        collector.close()


def test_settling_zero_turns_it_off(sim: RunningSimulator) -> None:
    off = make_exporter(sim, ghost_settle_seconds=0)
    try:
        race = sim.inject("fill-race", profile="p-1", symbol="SPY", qty=3, seconds=30)
        assert state(off, race["account"], "SPY", "p-1") == (1.0, None)
    finally:
        off.close()
