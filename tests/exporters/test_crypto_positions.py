"""Crypto positions against the simulator: one symbol per pair whatever the spelling, the fee paid in the asset
as an allowance, dust by size and by notional never a ghost, a real crypto ghost still one."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests
from sqlalchemy import event, update

from common.db import make_engine
from exporters.ghost_positions import GhostPositionCollector
from sources.assets import BrokerAsset
from sources.botdata import BotData
from sources.botdb import positions
from sources.broker import BrokerClient
from sources.instruments import Instrument
from sources.mapping import default_mapping
from tests.exporters.conftest import Exporter, make_exporter
from tests.exporters.test_ghost_positions import selects
from tests.simulator.helpers import broker
from tests.support.simulator import RunningSimulator, simulator_on_backend

SEED = {"profiles": 2, "accounts": 2, "crypto_profiles": 2}  # p-3 BTC/USD on acct-1, p-4 ETH/USD on acct-2
QUIET = {"api_requests_per_second": 0, "websocket_connects_per_second": 0}


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def crypto_sim(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[RunningSimulator]:
    with simulator_on_backend(request, tmp_path_factory.mktemp(f"crypto-{request.param}"),
                              simulator={"seed": SEED, "traffic": QUIET}) as running:
        yield running


@pytest.fixture
def exporter(crypto_sim: RunningSimulator) -> Iterator[Exporter]:
    crypto_sim.reset()
    made = make_exporter(crypto_sim)
    yield made
    made.close()


def ghost_collector(exporter: Exporter) -> GhostPositionCollector:
    return next(s for s in exporter.collector._sources if isinstance(s, GhostPositionCollector))


def close_in_bot(exporter: Exporter, profile: str) -> None:
    """The bot records the profile's open positions as closed (as after its exit order filled)."""
    with exporter.bot.engine.begin() as conn:
        conn.execute(update(positions).where(positions.c.profile_id == profile, positions.c.status == "open")
                     .values(status="closed"))


def test_one_symbol_per_pair_and_the_fee_paid_in_the_asset_is_an_allowance(exporter: Exporter) -> None:
    scrape = exporter.scrape()
    symbols = {dict(k)["symbol"] for k in scrape.samples("tradingbot_broker_position_quantity")}
    assert {"BTC/USD", "ETH/USD"} <= symbols and not {"BTCUSD", "ETHUSD"} & symbols
    btc = {"account": "acct-1", "symbol": "BTC/USD"}
    assert scrape.value("tradingbot_bot_position_quantity", **btc) == 0.05
    assert scrape.value("tradingbot_broker_position_quantity", **btc) == pytest.approx(0.049875)
    assert scrape.value("tradingbot_position_fee_allowance_quantity", **btc) == pytest.approx(0.000125)
    assert scrape.value("tradingbot_dust_position_quantity", **btc) == 0
    assert scrape.samples("tradingbot_ghost_position") == {}
    equities = {dict(k)["symbol"] for k in scrape.samples("tradingbot_position_fee_allowance_quantity")}
    assert equities == {"BTC/USD", "ETH/USD"}  # equities have no allowance and no dust series


def test_a_crypto_ghost_is_one_whatever_the_bots_spelling(exporter: Exporter) -> None:
    pair = exporter.sim.inject("crypto-ghost")  # the bot closed LINK/USD, the broker holds 4 LINKUSD
    compact = exporter.sim.inject("crypto-ghost", profile="p-4", symbol="BTCUSD", qty=0.01)  # a bot storing BTCUSD
    ghosts = exporter.samples("tradingbot_ghost_position")
    assert ghosts == {
        (("account", pair["account"]), ("profile", "p-3"), ("symbol", "LINK/USD")): 1.0,
        (("account", compact["account"]), ("profile", "p-4"), ("symbol", "BTC/USD")): 1.0,
    }
    assert exporter.value("tradingbot_broker_position_quantity", account="acct-1", symbol="LINK/USD") == 4


def dust_after_a_sale(exporter: Exporter, session: requests.Session, leave: float) -> None:
    """p-3 sells all but `leave` BTC at the broker and records its position closed."""
    client = broker(exporter.sim, session, "acct-1")
    held = client.get_position("BTC/USD")
    assert held is not None
    client.close_position("BTC/USD", qty=round(held.qty - leave, 9))
    close_in_bot(exporter, "p-3")


def test_dust_below_min_order_size_is_reported_never_a_ghost(exporter: Exporter) -> None:
    with requests.Session() as session:
        dust_after_a_sale(exporter, session, 0.00005)  # below BTC/USD's min_order_size 0.0001 (worth 3 USD)
    scrape = exporter.scrape()
    btc = {"account": "acct-1", "symbol": "BTC/USD"}
    assert scrape.value("tradingbot_dust_position_quantity", **btc) == pytest.approx(0.00005)
    assert scrape.value("tradingbot_bot_position_quantity", **btc) == 0
    assert scrape.samples("tradingbot_ghost_position") == {}


def test_dust_by_notional_and_just_above_it_a_ghost(crypto_sim: RunningSimulator) -> None:
    crypto_sim.reset()
    with requests.Session() as session:
        # settling off: the buy below was placed just now, and this is about the quantity alone
        raised = make_exporter(crypto_sim, crypto={"dust_notional": 10.0}, ghost_settle_seconds=0)
        try:
            dust_after_a_sale(raised, session, 0.00015)  # above min_order_size, worth 9 USD < the 10 USD floor
            btc = {"account": "acct-1", "symbol": "BTC/USD"}
            assert raised.value("tradingbot_dust_position_quantity", **btc) == pytest.approx(0.00015)
            assert raised.samples("tradingbot_ghost_position") == {}
            broker(crypto_sim, session, "acct-1").close_position("BTC/USD", qty=0.00015)
            held = session.post(f"{crypto_sim.broker_url}/v2/orders", timeout=5, json={
                "symbol": "BTC/USD", "qty": "0.0002", "side": "buy", "type": "market", "time_in_force": "gtc"},
                headers={"APCA-API-KEY-ID": "sim-key-acct-1",
                         "APCA-API-SECRET-KEY": crypto_sim.env["APCA_API_SECRET_KEY"]})
            assert held.status_code == 200  # 0.0001995 held: worth 11.97 USD, just above the floor
            assert raised.value("tradingbot_ghost_position", account="acct-1", symbol="BTC/USD", profile="p-3") == 1
        finally:
            raised.close()


class AssetCounting(BrokerClient):
    def __init__(self, inner: BrokerClient, asked: list[str]) -> None:
        self.__dict__.update(inner.__dict__)
        self._asked = asked

    def get_asset(self, symbol: str | Instrument) -> BrokerAsset | None:
        self._asked.append(str(symbol))
        return super().get_asset(symbol)


def test_assets_are_read_once_per_instrument_and_crypto_adds_one_statement(exporter: Exporter) -> None:
    inner = ghost_collector(exporter)
    asked: list[str] = []
    engine = make_engine(exporter.sim.db_url)
    bot = BotData(engine, default_mapping(), 300)
    bot.check()  # the mapping meets the database once, before any scrape
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda _c, _cur, sql, *_: statements.append(sql))
    collector = GhostPositionCollector(bot, lambda key: AssetCounting(inner._broker_for(key), asked), 4, 8.0)
    try:
        for _ in range(3):
            collector.collect()
    finally:
        collector.close()
        engine.dispose()
    assert sorted(asked) == ["BTC/USD", "ETH/USD"]  # cached after the first scrape
    assert len(selects(statements)) == 3 * 3  # accounts, open positions, filled buys of open crypto positions


def test_a_crypto_fill_race_settles_with_the_fee_paid_in_the_asset(crypto_sim: RunningSimulator) -> None:
    """The broker credits 0.5 BTC less the fee before the bot records the buy: settling, then parity."""
    crypto_sim.reset()
    short = make_exporter(crypto_sim, ghost_settle_seconds=3.0)
    try:
        close_in_bot(short, "p-3")  # flat in the bot, the broker's holding sold: the race buys from nothing
        broker(crypto_sim, requests.Session(), "acct-1").close_position("BTC/USD")
        time.sleep(3.2)  # the close's events age past the bound
        assert short.samples("tradingbot_ghost_position") == {}  # the sale left dust at most
        race = crypto_sim.inject("crypto-fill-race", profile="p-3", symbol="BTC/USD", qty=0.5, seconds=1.0)
        settling = short.samples("tradingbot_position_settling")
        assert settling == {(("account", race["account"]), ("profile", "p-3"), ("symbol", "BTC/USD")): 1.0}
        deadline = time.monotonic() + 10
        while short.samples("tradingbot_position_settling") and time.monotonic() < deadline:
            assert short.samples("tradingbot_ghost_position") == {}
            time.sleep(0.2)
        assert short.samples("tradingbot_ghost_position") == {} == short.samples("tradingbot_position_settling")
    finally:
        short.close()
