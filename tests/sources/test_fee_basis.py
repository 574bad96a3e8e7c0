"""What a crypto position paid its fee in the asset on (`BotData.bought_since_open`), as a real bot records it:
the buy that opened a position is placed before the position's opened_at, and a symbol may have several open
rows; each order counts once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert

from common.db import make_engine
from sources.botdata import BotData
from sources.botdb import broker_accounts, create_schema, orders, positions, profiles
from sources.mapping import default_mapping

OPENED = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def bot(db_url: str) -> Iterator[BotData]:
    engine = make_engine(db_url)
    create_schema(engine)
    with engine.begin() as conn:
        conn.execute(insert(broker_accounts), [{"id": "acct-1", "api_key_id": "K1", "label": "a"}])
        conn.execute(insert(profiles), [{"id": "p-1", "name": "c", "status": "active", "account_id": "acct-1",
                                         "updated_at": OPENED}])
    gateway = BotData(engine, default_mapping(), 300, lambda: OPENED + timedelta(hours=1))
    yield gateway
    gateway.dispose()


def _position(bot: BotData, symbol: str, qty: float, opened: datetime) -> None:
    with bot.engine.begin() as conn:
        conn.execute(insert(positions).values(profile_id="p-1", symbol=symbol, qty=qty, avg_entry_price=100.0,
                                              status="open", opened_at=opened, closed_at=None, updated_at=opened))


def _filled(bot: BotData, order_id: str, symbol: str, side: str, qty: float, created: datetime) -> None:
    with bot.engine.begin() as conn:
        conn.execute(insert(orders).values(id=order_id, profile_id="p-1", symbol=symbol, side=side, qty=qty,
                                           status="filled", client_order_id=f"c-{order_id}", broker_order_id=None,
                                           created_at=created, updated_at=created))


def test_an_opening_buy_placed_before_the_position_opened_still_counts_through_the_sales(bot: BotData) -> None:
    _filled(bot, "o-1", "BTC/USD", "buy", 1.0, OPENED - timedelta(seconds=5))  # filled, then the row opened
    _position(bot, "BTC/USD", 0.4, OPENED)
    _filled(bot, "o-2", "BTC/USD", "sell", 0.6, OPENED + timedelta(minutes=1))
    # the fee was paid on 1.0 bought: the 0.4 still held plus the 0.6 sold since
    assert bot.bought_since_open(["BTC/USD"]) == {("acct-1", "BTC/USD"): pytest.approx(1.0)}


def test_each_buy_counts_once_however_many_open_rows_the_symbol_has(bot: BotData) -> None:
    _position(bot, "ETH/USD", 0.5, OPENED)
    _filled(bot, "o-3", "ETH/USD", "buy", 0.5, OPENED + timedelta(seconds=1))
    _position(bot, "ETH/USD", 0.5, OPENED + timedelta(seconds=10))  # a second open trade row
    _filled(bot, "o-4", "ETH/USD", "buy", 0.5, OPENED + timedelta(seconds=11))
    assert bot.bought_since_open(["ETH/USD"]) == {("acct-1", "ETH/USD"): pytest.approx(1.0)}
