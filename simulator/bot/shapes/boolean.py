"""Shape ``boolean``: a Supabase-style bot covering the variations the strategy-table bot does not.

- ``bots`` enabled by a boolean ``is_enabled``, each with its ``alpaca_account_id``; ``alpaca_accounts``
  keep the key id in ``alpaca_key_id``;
- ``bot_orders``: Alpaca's words in upper case (``PENDING_NEW``), ``direction`` ``BUY``/``SELL``,
  ``order_kind`` ``LIMIT``/``MARKET``, the broker id as ``alpaca_order_id``, no client order id, and
  ``submitted_at`` as the only clock (no ``updated_at``);
- ``holdings``: ``position_type`` ``long``/``short`` with an unsigned ``quantity``, open while
  ``closed_at`` is NULL;
- crypto pairs spelled ``BTC-USD`` (neither of Alpaca's two forms); naive UTC timestamps.

The mapping that connects it is in ``config/shapes/boolean.yml``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    func,
    select,
)

from simulator.bot.shapes.mirror import BotShape, Others, Part, Row, Snapshot
from sources.botdb import QUARANTINED_STATUS
from sources.instruments import instrument

QUARANTINE = QUARANTINED_STATUS.upper()
CRYPTO_FORMAT = "{base}-{quote}"

metadata = MetaData()
alpaca_accounts = Table(
    "alpaca_accounts", metadata, Column("id", String(64), primary_key=True), Column("label", String(128)),
    Column("alpaca_key_id", String(128)),
)
bots = Table(
    "bots", metadata, Column("id", String(64), primary_key=True), Column("display_name", String(128)),
    Column("is_enabled", Boolean), Column("alpaca_account_id", String(64)), Column("modified_at", DateTime()),
)
bot_orders = Table(
    "bot_orders", metadata, Column("id", String(64), primary_key=True), Column("bot_id", String(64)),
    Column("ticker", String(32)), Column("direction", String(8)), Column("amount", Float),
    Column("order_kind", String(16)), Column("state", String(24)), Column("alpaca_order_id", String(128)),
    Column("submitted_at", DateTime()),
    Index("bot_orders_state_submitted_at", "state", "submitted_at"),
)
holdings = Table(
    "holdings", metadata, Column("id", Integer, primary_key=True), Column("bot_id", String(64)),
    Column("ticker", String(32)), Column("position_type", String(8)), Column("quantity", Float),
    Column("opened_at", DateTime()), Column("closed_at", DateTime(), nullable=True),
)


def ticker(symbol: str) -> str:
    """The bot's spelling: ``BTC-USD`` for a crypto pair, the ticker for an equity."""
    held = instrument(symbol)
    return CRYPTO_FORMAT.format(base=held.base, quote=held.quote) if held.crypto else held.symbol


def naive(at: datetime | None) -> datetime | None:
    return at.replace(tzinfo=None) if at is not None else None


def order_kind(order: Any) -> str:
    """Working orders rest as LIMIT orders, except the stale-orders fault's stuck MARKET orders."""
    if "-stale-" in str(order.client_order_id):
        return "MARKET"
    return "MARKET" if order.status in ("filled", "canceled", "expired", "rejected", "replaced") else "LIMIT"


def _rows(snapshot: Snapshot) -> Iterator[tuple[str, Row]]:
    for account in snapshot.accounts:
        yield "alpaca_accounts", {"id": account.id, "label": account.label, "alpaca_key_id": account.api_key_id}
    for profile in snapshot.profiles:
        yield "bots", {"id": profile.id, "display_name": profile.name, "is_enabled": profile.status == "active",
                       "alpaca_account_id": profile.account_id, "modified_at": naive(profile.updated_at)}
    for order in snapshot.orders:
        yield "bot_orders", {
            "id": order.id, "bot_id": order.profile_id, "ticker": ticker(order.symbol),
            "direction": order.side.upper(), "amount": order.qty, "order_kind": order_kind(order),
            "state": order.status.upper(), "alpaca_order_id": order.broker_order_id,
            "submitted_at": naive(order.created_at),
        }
    for position in snapshot.positions:
        yield "holdings", {
            "id": position.id, "bot_id": position.profile_id, "ticker": ticker(position.symbol),
            "position_type": "short" if position.qty < 0 else "long", "quantity": abs(position.qty),
            "opened_at": naive(position.opened_at),
            "closed_at": naive(position.closed_at) if position.status != "open" else None,
        }


def _others(conn: Connection) -> Others:
    enabled = {str(row.id): bool(row.is_enabled) for row in conn.execute(select(bots.c.id, bots.c.is_enabled))}
    stuck = select(bot_orders.c.id).where(func.upper(bot_orders.c.state) == QUARANTINE)
    return Others(enabled, [str(row.id) for row in conn.execute(stuck)])


SHAPE = BotShape(
    name="boolean",
    metadata=metadata,
    parts=(
        Part(alpaca_accounts, "id"),
        Part(bots, "id", insert_only=("is_enabled",), touch="modified_at"),
        Part(bot_orders, "id", guard=("state", (QUARANTINE, QUARANTINED_STATUS))),
        Part(holdings, "id"),
    ),
    rows=_rows,
    others=_others,
)
