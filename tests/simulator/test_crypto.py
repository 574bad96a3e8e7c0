"""The broker stand-in trades crypto as Alpaca does: two spellings, the fee in the asset, long only, assets with
their sizes, 404 for the pair form on the position path; crypto profiles, their faults and the bot's trading."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from sources.botdb import orders
from sources.broker import BrokerRejected
from tests.simulator.helpers import bot_db, broker, open_positions
from tests.support.simulator import RunningSimulator, start_simulator

SEED = {"profiles": 2, "accounts": 2, "crypto_profiles": 2}  # p-3 BTC/USD on acct-1, p-4 ETH/USD on acct-2


@pytest.fixture(scope="module")
def crypto_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSimulator]:
    tmp_path = tmp_path_factory.mktemp("crypto-sim")
    quiet = {"api_requests_per_second": 0, "websocket_connects_per_second": 0}
    with start_simulator(tmp_path, f"sqlite:///{tmp_path / 'bot.sqlite3'}",
                         simulator={"seed": SEED, "traffic": quiet}) as sim:
        yield sim


@pytest.fixture
def sim(crypto_sim: RunningSimulator) -> RunningSimulator:
    crypto_sim.reset()
    return crypto_sim


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as http:
        yield http


def order(sim: RunningSimulator, session: requests.Session, account: str, **body: str) -> requests.Response:
    headers = {"APCA-API-KEY-ID": f"sim-key-{account}", "APCA-API-SECRET-KEY": sim.env["APCA_API_SECRET_KEY"]}
    body = {"type": "market", "time_in_force": "gtc", **body}
    return session.post(f"{sim.broker_url}/v2/orders", json=body, headers=headers, timeout=5)


def test_crypto_profiles_hold_the_pair_the_bot_spells_btc_usd_and_the_broker_btcusd_less_the_fee(
    sim: RunningSimulator, session: requests.Session
) -> None:
    with bot_db(sim) as engine:
        assert open_positions(engine)[("acct-1", "BTC/USD")] == 0.05
    held = {p.symbol: p for p in broker(sim, session, "acct-1").list_positions()}
    assert held["BTCUSD"].qty == pytest.approx(0.05 * 0.9975) and held["BTCUSD"].asset_class == "crypto"
    assert held["AAPL"].asset_class == "us_equity"


def test_the_position_path_answers_for_the_compact_form_only(sim: RunningSimulator, session: requests.Session
                                                             ) -> None:
    headers = {"APCA-API-KEY-ID": "sim-key-acct-1", "APCA-API-SECRET-KEY": sim.env["APCA_API_SECRET_KEY"]}
    pair = session.get(f"{sim.broker_url}/v2/positions/BTC/USD", headers=headers, timeout=5)
    assert (pair.status_code, pair.json()["code"]) == (404, 40410000)  # as Alpaca: 404 while BTCUSD is held
    assert session.get(f"{sim.broker_url}/v2/positions/BTCUSD", headers=headers, timeout=5).status_code == 200
    found = broker(sim, session, "acct-1").get_position("BTC/USD")  # the client asks with the compact form
    assert found is not None and found.symbol == "BTCUSD"


def test_assets_carry_min_order_size_and_min_trade_increment(sim: RunningSimulator, session: requests.Session
                                                             ) -> None:
    client = broker(sim, session)
    for spelling in ("BTC/USD", "BTCUSD"):
        asset = client.get_asset(spelling)
        assert asset is not None and (asset.symbol, asset.asset_class) == ("BTC/USD", "crypto")
        assert (asset.min_order_size, asset.min_trade_increment) == (0.0001, 0.000000001)
    equity = client.get_asset("AAPL")
    assert equity is not None and (equity.asset_class, equity.min_order_size) == ("us_equity", 0.0)


def test_a_buy_pays_its_fee_in_the_asset_and_selling_more_than_is_held_is_refused(
    sim: RunningSimulator, session: requests.Session
) -> None:
    bought = order(sim, session, "acct-2", symbol="LINKUSD", qty="4", side="buy")
    assert bought.status_code == 200 and bought.json()["symbol"] == "LINK/USD"  # orders carry the pair form
    assert (bought.json()["filled_qty"], bought.json()["asset_class"]) == ("4", "crypto")
    client = broker(sim, session, "acct-2")
    held = client.get_position("LINK/USD")
    assert held is not None and held.qty == pytest.approx(3.99)
    refused = order(sim, session, "acct-2", symbol="LINK/USD", qty="4", side="sell")
    assert (refused.status_code, refused.json()["code"]) == (403, 40310000)
    assert "insufficient balance" in refused.json()["message"]
    assert order(sim, session, "acct-2", symbol="LINK/USD", qty="0.01", side="sell").status_code == 422  # < min
    assert order(sim, session, "acct-2", symbol="LINK/USD", qty="1", side="sell", time_in_force="day"
                 ).status_code == 422
    assert order(sim, session, "acct-2", symbol="DOGE/USD", qty="10", side="sell").status_code == 403  # long only


def test_a_partial_close_sells_the_quantity_asked_and_leaves_the_rest(sim: RunningSimulator,
                                                                      session: requests.Session) -> None:
    client = broker(sim, session, "acct-1")
    closed = client.close_position("BTC/USD", qty=0.04)
    assert (closed.symbol, closed.side, closed.qty) == ("BTC/USD", "sell", 0.04)
    rest = client.get_position("BTCUSD")
    assert rest is not None and rest.qty == pytest.approx(0.05 * 0.9975 - 0.04)
    with pytest.raises(BrokerRejected) as refused:
        client.close_position("BTC/USD", qty=1.0)
    assert refused.value.insufficient_funds


def test_a_crypto_ghost_leaves_4_linkusd_at_the_broker_and_link_usd_closed_in_the_bot(
    sim: RunningSimulator, session: requests.Session
) -> None:
    applied = sim.inject("crypto-ghost")
    assert (applied["profile"], applied["account"], applied["symbol"], applied["broker_qty"]) == (
        "p-3", "acct-1", "LINK/USD", 4.0)
    assert [p.qty for p in broker(sim, session, "acct-1").list_positions() if p.symbol == "LINKUSD"] == [4.0]
    with bot_db(sim) as engine:
        assert ("acct-1", "LINK/USD") not in open_positions(engine)
    reconciled = requests.post(f"{sim.bot_url}/admin/reconcile", timeout=10,
                               headers={"Authorization": f"Bearer {sim.env['SUPABASE_SERVICE_ROLE_KEY']}"}).json()
    assert [(r["symbol"], r["profile"], r["qty"]) for r in reconciled["reopened"]] == [("LINK/USD", "p-3", 4.0)]


def test_a_crypto_fill_race_shows_the_buy_less_the_fee_before_the_bot_records_it(
    sim: RunningSimulator, session: requests.Session
) -> None:
    applied = sim.inject("crypto-fill-race", qty=0.02, seconds=1)
    assert (applied["profile"], applied["symbol"]) == ("p-3", "BTC/USD")
    held = broker(sim, session, "acct-1").get_position("BTCUSD")
    assert held is not None and held.qty == pytest.approx((0.05 + 0.02) * 0.9975)
    deadline = time.monotonic() + 10
    with bot_db(sim) as engine:
        while open_positions(engine)[("acct-1", "BTC/USD")] != pytest.approx(0.07) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert open_positions(engine)[("acct-1", "BTC/USD")] == pytest.approx(0.07)


def test_crypto_fault_options_are_checked(sim: RunningSimulator) -> None:
    bad = requests.post(f"{sim.control_url}/faults/crypto-ghost", json={"symbol": "AAPL"}, timeout=5)
    assert bad.status_code == 400 and "crypto pair" in bad.json()["error"]


def test_the_bots_crypto_trading_pays_fees_in_the_asset_and_leaves_dust(tmp_path: Path, session: requests.Session
                                                                         ) -> None:
    traffic = {"api_requests_per_second": 0, "websocket_connects_per_second": 0, "crypto_fills_per_second": 40}
    with start_simulator(tmp_path, f"sqlite:///{tmp_path / 'bot.sqlite3'}",
                         simulator={"seed": SEED, "traffic": traffic}) as sim, bot_db(sim) as engine:
        deadline = time.monotonic() + 15
        fills = 0
        while fills < 40 and time.monotonic() < deadline:
            time.sleep(0.2)
            with engine.connect() as conn:
                fills = conn.execute(select(func.count()).where(
                    orders.c.symbol.in_(["BTC/USD", "ETH/USD"]), orders.c.status == "filled",
                    orders.c.client_order_id.not_like("p-%"))).scalar_one()
        assert fills >= 40
        sim.inject("insufficient-funds")  # the bot's trading stops with the broker's refusals
        time.sleep(0.3)
        held = {p.symbol: p.qty for p in broker(sim, session, "acct-1").list_positions()}
        bot = open_positions(engine)
        if ("acct-1", "BTC/USD") in bot:  # between a buy and its sale: the fee is the difference
            assert held["BTCUSD"] < bot[("acct-1", "BTC/USD")]
        else:  # after a sale: at most dust below min_order_size stays at the broker
            assert held.get("BTCUSD", 0.0) < 0.0001
