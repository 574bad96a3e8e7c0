"""A bot's own spelling of a crypto pair (``symbols.crypto_format``, e.g. ``BTC-USD``) resolves to the one
instrument: the gateway reads ``BTC-USD`` rows as ``BTC/USD`` and finds them when asked for either of Alpaca's
spellings, on SQLite and PostgreSQL (the rows are the ``boolean`` shape's, connected by its own mapping)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert

from common.db import make_engine
from simulator.bot.shapes import boolean
from sources.botdata import BotData
from sources.instruments import BotSpelling, check_crypto_format, instrument
from sources.mapping import BotMapping
from tests.support.shapes import shape_config

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


def test_the_bots_spelling_reads_as_the_pair_and_adds_itself_to_alpacas() -> None:
    dashed = BotSpelling("{base}-{quote}")
    assert [dashed.label(s) for s in ("BTC-USD", "link-usdt", "BRK-B", "AAPL", "BTC/USD")] == [
        "BTC/USD", "LINK/USDT", "BRK-B", "AAPL", "BTC/USD"]  # BRK-B ends in no quote currency: an equity
    assert dashed.stored(["BTC/USD", "AAPL"]) == ["BTC/USD", "AAPL", "BTC-USD", "BTCUSD"]
    assert dashed.stored(["BTCUSD"]) == ["BTCUSD", "BTC-USD", "BTC/USD"]
    assert BotSpelling("{base}_{quote}").label("ETH_USD") == "ETH/USD"
    assert instrument(dashed.label("ETH-BTC")) == instrument("ETHBTC")
    plain = BotSpelling()  # Alpaca's own two forms need no setting
    assert plain.label("BTC-USD") == "BTC-USD" and plain.stored(["BTC/USD"]) == ["BTC/USD"]
    for wrong in ("{base}-USD", "{quote}-{base}", "{base}-{quote}-{base}", "{pair}"):
        with pytest.raises(ValueError, match=r"give \{base\} then \{quote\} once each"):
            check_crypto_format(wrong)


@pytest.fixture
def bot(db_url: str) -> Iterator[BotData]:
    engine = make_engine(db_url)
    boolean.metadata.create_all(engine)
    hour, naive = timedelta(hours=1), NOW.replace(tzinfo=None)
    with engine.begin() as conn:
        conn.execute(insert(boolean.alpaca_accounts), [{"id": "acct-1", "label": "a", "alpaca_key_id": "K1"}])
        conn.execute(insert(boolean.bots), [{"id": "p-1", "display_name": "c", "is_enabled": True,
                                             "alpaca_account_id": "acct-1", "modified_at": naive}])
        conn.execute(insert(boolean.holdings), [
            {"id": 1, "bot_id": "p-1", "ticker": "BTC-USD", "position_type": "long", "quantity": 0.05,
             "opened_at": naive - hour, "closed_at": None},
            {"id": 2, "bot_id": "p-1", "ticker": "LINK-USD", "position_type": "long", "quantity": 4.0,
             "opened_at": naive - 3 * hour, "closed_at": naive - hour},
        ])
        conn.execute(insert(boolean.bot_orders), [
            {"id": "o-1", "bot_id": "p-1", "ticker": "BTC-USD", "direction": "BUY", "amount": 0.05,
             "order_kind": "MARKET", "state": "FILLED", "alpaca_order_id": "b-1", "submitted_at": naive - hour},
            {"id": "o-2", "bot_id": "p-1", "ticker": "LINK-USD", "direction": "SELL", "amount": 4.0,
             "order_kind": "MARKET", "state": "FILLED", "alpaca_order_id": "b-2", "submitted_at": naive - hour},
        ])
    gateway = BotData(engine, BotMapping.model_validate(shape_config("boolean")["bot_db"]["mapping"]), 300,
                      lambda: NOW)
    yield gateway
    gateway.dispose()


def test_the_gateway_speaks_of_the_instrument_whatever_the_bot_stored(bot: BotData) -> None:
    assert bot.open_quantities() == {"acct-1": {"BTC/USD": 0.05}}
    assert bot.bought_since_open(["BTC/USD"]) == {("acct-1", "BTC/USD"): 0.05}
    assert bot.last_closes([("acct-1", "LINKUSD")]) == {("acct-1", "LINK/USD"): {"p-1": NOW - timedelta(hours=1)}}
    assert bot.last_order_events([("acct-1", "BTCUSD"), ("acct-1", "LINK/USD")]) == {
        ("acct-1", "BTC/USD"): NOW - timedelta(hours=1), ("acct-1", "LINK/USD"): NOW - timedelta(hours=1)}
    assert [p.symbol for p in bot.positions_of("p-1", instrument("LINKUSD").spellings, 5)] == ["LINK/USD"]
    assert [o.id for o in bot.orders_of("p-1", "BTC/USD", 5)] == ["o-1"]
    assert {o.symbol for o in bot.orders_of("p-1", ["BTC/USD", "LINK/USD"], 5)} == {"BTC/USD", "LINK/USD"}
    assert bot.filled_orders(NOW - timedelta(days=1)) == {"BTC/USD": 1, "LINK/USD": 1}
    assert [p.symbol for p in bot.open_positions()] == ["BTC/USD"]
