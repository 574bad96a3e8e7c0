from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from sqlalchemy import event

from common.db import make_engine
from exporters.ghost_positions import GhostPositionCollector
from sources.botdata import BotData
from sources.broker import BrokerClient, BrokerPosition
from sources.mapping import default_mapping
from tests.exporters.conftest import Exporter


def ghosts(exporter: Exporter) -> dict[tuple[tuple[str, str], ...], float]:
    return exporter.samples("tradingbot_ghost_position")


def test_parity_at_start_means_no_ghost(exporter: Exporter) -> None:
    scrape = exporter.scrape()
    broker = scrape.samples("tradingbot_broker_position_quantity")
    bot = scrape.samples("tradingbot_bot_position_quantity")
    assert broker and broker == bot
    assert scrape.samples("tradingbot_ghost_position") == {}
    ups = scrape.samples("tradingbot_broker_up")
    assert len(ups) == 3 and set(ups.values()) == {1.0}
    assert scrape.value("tradingbot_collector_up", collector="ghost_positions") == 1


def test_ghost_is_reported_per_impacted_profile(exporter: Exporter) -> None:
    applied = exporter.sim.inject("ghost", profile="p-1", symbol="TSLA", qty=7)
    account = applied["account"]
    scrape = exporter.scrape()
    assert scrape.value("tradingbot_ghost_position", account=account, symbol="TSLA", profile="p-1") == 1
    assert scrape.value("tradingbot_broker_position_quantity", account=account, symbol="TSLA") == 7
    assert scrape.value("tradingbot_bot_position_quantity", account=account, symbol="TSLA") == 0
    assert len(scrape.samples("tradingbot_ghost_position")) == 1
    exporter.sim.reset()
    assert ghosts(exporter) == {}


def test_phantom_is_a_mismatch_but_not_a_ghost(exporter: Exporter) -> None:
    applied = exporter.sim.inject("phantom", profile="p-2")
    account, symbol = applied["account"], applied["symbol"]
    assert exporter.value("tradingbot_broker_position_quantity", account=account, symbol=symbol) == 0
    assert exporter.value("tradingbot_bot_position_quantity", account=account, symbol=symbol) == applied["qty"]
    assert ghosts(exporter) == {}


def test_fill_race_settles_and_is_never_a_ghost_until_the_bot_records_the_fill(exporter: Exporter) -> None:
    applied = exporter.sim.inject("fill-race", profile="p-1", symbol="SPY", qty=3, seconds=1.5)
    account = applied["account"]
    assert exporter.value("tradingbot_position_settling", account=account, symbol="SPY", profile="p-1") == 1
    deadline = time.monotonic() + 10
    while exporter.samples("tradingbot_position_settling") and time.monotonic() < deadline:
        assert ghosts(exporter) == {}
        time.sleep(0.2)
    assert ghosts(exporter) == {} and exporter.samples("tradingbot_position_settling") == {}
    assert exporter.value("tradingbot_bot_position_quantity", account=account, symbol="SPY") == 3


@pytest.mark.parametrize("mode", ["5xx", "429", "unauthorized", "timeout", "connection", "malformed"])
def test_unreadable_broker_gives_no_verdict_for_that_account(exporter: Exporter, mode: str) -> None:
    ghost = exporter.sim.inject("ghost", profile="p-1", symbol="TSLA")
    account = ghost["account"]
    exporter.sim.inject("broker-outage", mode=mode, accounts=account, delay_seconds=4)
    scrape = exporter.scrape()
    assert scrape.value("tradingbot_broker_up", account=account) == 0
    assert scrape.samples("tradingbot_ghost_position") == {}  # neither ghost nor all-clear
    assert not [k for k in scrape.samples("tradingbot_broker_position_quantity") if ("account", account) in k]
    others = {dict(k)["account"]: v for k, v in scrape.samples("tradingbot_broker_up").items()}
    assert [v for a, v in others.items() if a != account] == [1.0, 1.0]
    kind = {
        "5xx": "server_error",
        "429": "rate_limited",
        "unauthorized": "unauthorized",
        "timeout": "timeout",
        "connection": "connection",
        "malformed": "bad_response",
    }[mode]
    errors = scrape.value("tradingbot_broker_errors_total", kind=kind)
    assert errors is not None and errors >= 1
    assert scrape.value("tradingbot_collector_up", collector="ghost_positions") == 1


class CountingBroker(BrokerClient):
    """A real client that records reads and how many run at once."""

    def __init__(self, inner: BrokerClient, stats: dict[str, object]) -> None:
        self.__dict__.update(inner.__dict__)
        self._stats = stats

    def list_positions(self) -> list[BrokerPosition]:
        lock: threading.Lock = self._stats["lock"]  # type: ignore[assignment]
        with lock:
            self._stats["in_flight"] += 1  # type: ignore[operator]
            self._stats["peak"] = max(self._stats["peak"], self._stats["in_flight"])  # type: ignore[call-overload]
            self._stats["reads"][self._headers["APCA-API-KEY-ID"]] += 1  # type: ignore[index]
        try:
            return super().list_positions()
        finally:
            with lock:
                self._stats["in_flight"] -= 1  # type: ignore[operator]


def test_broker_reads_are_concurrent_bounded_and_one_per_account(exporter: Exporter) -> None:
    sim = exporter.sim
    sim.set_broker_latency(150)
    ghost_collector = next(s for s in exporter.collector._sources if isinstance(s, GhostPositionCollector))
    stats: dict[str, object] = {"lock": threading.Lock(), "in_flight": 0, "peak": 0, "reads": Counter()}
    inner_for = ghost_collector._broker_for
    limited = GhostPositionCollector(ghost_collector._bot, lambda key: CountingBroker(inner_for(key), stats), 2, 8.0)
    try:
        families = limited.collect()
    finally:
        limited.close()
    up = next(f for f in families if f.name == "tradingbot_broker_up")
    assert [s.value for s in up.samples] == [1.0, 1.0, 1.0]
    assert stats["peak"] == 2  # concurrent, and never beyond the pool
    assert sorted(stats["reads"].values()) == [1, 1, 1]  # type: ignore[attr-defined]


def test_ghost_is_attributed_to_the_profile_that_closed_the_symbol_last(exporter: Exporter) -> None:
    first = exporter.sim.inject("ghost", profile="p-1", symbol="AMD", qty=2)
    # p-4 shares the account; it closes AMD later, with the broker still holding both quantities
    second = exporter.sim.inject("ghost", profile="p-4", symbol="AMD", qty=3)
    assert first["account"] == second["account"]
    found = ghosts(exporter)
    assert found == {(("account", first["account"]), ("profile", "p-4"), ("symbol", "AMD")): 1.0}


def selects(statements: list[str]) -> list[str]:
    """The queries among the statements (SQLite's engine also sends its own BEGIN)."""
    return [sql for sql in statements if sql.lstrip().upper().startswith("SELECT")]


def test_a_scrape_runs_two_statements_and_four_for_a_ghost_some_profile_closed(exporter: Exporter) -> None:
    engine = make_engine(exporter.sim.db_url)
    bot = BotData(engine, default_mapping(), 300)
    bot.check()  # the mapping meets the database once, before any scrape
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda _c, _cur, sql, *_: statements.append(sql))
    ghost_collector = next(s for s in exporter.collector._sources if isinstance(s, GhostPositionCollector))
    collector = GhostPositionCollector(bot, ghost_collector._broker_for, 4, 8.0)
    try:
        collector.collect()
        assert len(selects(statements)) == 2, statements
        exporter.sim.inject("ghost", profile="p-1", symbol="TSLA", qty=7)
        statements.clear()
        families = {f.name: f for f in collector.collect()}
        assert [s.labels["profile"] for s in families["tradingbot_ghost_position"].samples] == ["p-1"]
        # the bot's last order events (settling?) and the last closes; not the account's profiles: p-1 closed TSLA
        assert len(selects(statements)) == 4, statements
    finally:
        collector.close()
        engine.dispose()


class ExplodingBroker(BrokerClient):
    """A real client whose read fails with an error no broker client is meant to raise."""

    def list_positions(self) -> list[BrokerPosition]:
        raise RuntimeError("a bug in the read path")


def test_an_unexpected_error_in_one_read_loses_that_account_only(exporter: Exporter) -> None:
    ghost_collector = next(s for s in exporter.collector._sources if isinstance(s, GhostPositionCollector))
    inner_for = ghost_collector._broker_for
    first = ghost_collector._read_bot()[0][0]

    def broker_for(key: str) -> BrokerClient:
        client = inner_for(key)
        if key == first.key_id:
            client.__class__ = ExplodingBroker
        return client

    collector = GhostPositionCollector(ghost_collector._bot, broker_for, 4, 8.0)
    try:
        families = {f.name: f for f in collector.collect()}
    finally:
        collector.close()
    up = {s.labels["account"]: s.value for s in families["tradingbot_broker_up"].samples}
    assert up.pop(first.id) == 0
    assert list(up.values()) == [1.0, 1.0]
    errors = {s.labels["kind"]: s.value for s in families["tradingbot_broker_errors"].samples}
    assert errors["bad_response"] == 1


def test_accounts_cut_by_the_deadline_are_read_first_next_time(exporter: Exporter) -> None:
    exporter.sim.set_broker_latency(400)
    ghost_collector = next(s for s in exporter.collector._sources if isinstance(s, GhostPositionCollector))
    one_at_a_time = GhostPositionCollector(ghost_collector._bot, ghost_collector._broker_for, 1, 1.0)
    verdicts: Counter[str] = Counter()
    try:
        for _ in range(3):  # about two reads fit in the deadline; the third account must not always be cut
            families = {f.name: f for f in one_at_a_time.collect()}
            verdicts.update(s.labels["account"] for s in families["tradingbot_broker_up"].samples if s.value == 1)
    finally:
        one_at_a_time.close()
    assert set(verdicts) == {"acct-1", "acct-2", "acct-3"}
