"""Shape ``strategy``: the strategy-table bot of docs/simulator.md (FastAPI + SQLAlchemy, Alpaca).

- ``strategies`` with ``status`` in ``development|backtesting|paper|live_eligible|paused|retired``, reaching
  its broker account through ``strategy_assignments``; ``broker_accounts`` hold no API credentials (the
  mapping lists each account's key id);
- ``orders`` reach their strategy through ``trade_proposals``; statuses normalised (every working Alpaca
  word is ``submitted``, ``canceled`` is ``cancelled``); no client order id column; ``order_type``;
  ``updated_at`` written only when the row changes (a resting GTC limit order keeps it for days);
- ``positions`` with ``quantity`` and ``status`` ``open|closed|flattening`` (a paused strategy's open
  positions are being flattened).

The mapping that connects it is in ``config/shapes/strategy.yml``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Boolean, Column, Connection, DateTime, Float, Index, Integer, MetaData, String, Table, select

from simulator.bot.shapes.mirror import BotShape, Others, Part, Row, Snapshot
from sources.botdb import QUARANTINED_STATUS
from sources.instruments import instrument

ENABLED = ("live_eligible", "paper")
STOP = "paused"
RESUME = "live_eligible"
QUARANTINE = "unknown"
WORKING = ("new", "pending_new", "accepted", "accepted_for_bidding", "pending_replace", "pending_cancel",
           "suspended", "calculated", "done_for_day", "stopped", "held", "pending_review")
NORMALISED = {"canceled": "cancelled", "replaced": "cancelled", QUARANTINED_STATUS: QUARANTINE,
              **{word: "submitted" for word in WORKING}}

metadata = MetaData()
broker_accounts = Table(
    "broker_accounts", metadata, Column("id", String(64), primary_key=True), Column("name", String(128)),
    Column("broker", String(32)), Column("external_account_id", String(64)), Column("account_type", String(32)),
    Column("trading_mode", String(8)), Column("is_enabled", Boolean),
)
strategies = Table(
    "strategies", metadata, Column("id", String(64), primary_key=True), Column("name", String(128)),
    Column("status", String(16)), Column("updated_at", DateTime(timezone=True)),
)
strategy_assignments = Table(
    "strategy_assignments", metadata, Column("strategy_id", String(64), primary_key=True),
    Column("broker_account_id", String(64)),
)
trade_proposals = Table(
    "trade_proposals", metadata, Column("id", String(64), primary_key=True), Column("strategy_id", String(64)),
    Column("symbol", String(32)), Column("side", String(8)), Column("created_at", DateTime(timezone=True)),
)
orders = Table(
    "orders", metadata, Column("id", String(64), primary_key=True), Column("trade_proposal_id", String(64)),
    Column("broker_account_id", String(64)), Column("broker_order_id", String(128)), Column("symbol", String(32)),
    Column("asset_class", String(16)), Column("side", String(8)), Column("order_type", String(16)),
    Column("quantity", Float), Column("limit_price", Float), Column("stop_price", Float),
    Column("status", String(24)), Column("submitted_at", DateTime(timezone=True)),
    Column("cancelled_at", DateTime(timezone=True)), Column("created_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True)),
    Index("orders_status_submitted_at", "status", "submitted_at"),
)
positions = Table(
    "positions", metadata, Column("id", Integer, primary_key=True), Column("broker_account_id", String(64)),
    Column("strategy_id", String(64), nullable=True), Column("symbol", String(32)), Column("asset_class", String(16)),
    Column("quantity", Float), Column("average_entry_price", Float), Column("status", String(16)),
    Column("opened_at", DateTime(timezone=True)), Column("closed_at", DateTime(timezone=True), nullable=True),
)


def asset_class(symbol: str) -> str:
    return "crypto" if instrument(symbol).crypto else "us_equity"


def order_type(order: Any) -> str:
    """The simulated bot rests its working orders as GTC limit orders; a stuck one (the stale-orders fault's)
    is a market order, and a filled or closed one was a market order."""
    if "-stale-" in str(order.client_order_id):
        return "market"
    return "limit" if NORMALISED.get(order.status, order.status) == "submitted" else "market"


def _order(order: Any, accounts: dict[str, str]) -> Iterator[tuple[str, Row]]:
    proposal = f"tp-{order.id}"
    yield "trade_proposals", {"id": proposal, "strategy_id": order.profile_id, "symbol": order.symbol,
                              "side": order.side, "created_at": order.created_at}
    status = NORMALISED.get(order.status, order.status)
    kind = order_type(order)
    yield "orders", {
        "id": order.id, "trade_proposal_id": proposal, "broker_account_id": accounts.get(order.profile_id),
        "broker_order_id": order.broker_order_id, "symbol": order.symbol, "asset_class": asset_class(order.symbol),
        "side": order.side, "order_type": kind, "quantity": order.qty, "limit_price": None, "stop_price": None,
        "status": status, "submitted_at": order.created_at,
        "cancelled_at": order.updated_at if status == "cancelled" else None, "created_at": order.created_at,
        "updated_at": order.updated_at,
    }


def _rows(snapshot: Snapshot) -> Iterator[tuple[str, Row]]:
    for account in snapshot.accounts:
        yield "broker_accounts", {"id": account.id, "name": account.label, "broker": "alpaca",
                                  "external_account_id": f"PA{account.id.upper()}", "account_type": "margin",
                                  "trading_mode": "paper", "is_enabled": True}
    for profile in snapshot.profiles:
        yield "strategies", {"id": profile.id, "name": profile.name,
                             "status": RESUME if profile.status == "active" else STOP,
                             "updated_at": profile.updated_at}
        yield "strategy_assignments", {"strategy_id": profile.id, "broker_account_id": profile.account_id}
    accounts, active = snapshot.profile_accounts(), snapshot.active()
    for order in snapshot.orders:
        yield from _order(order, accounts)
    for position in snapshot.positions:
        status = position.status
        if status == "open" and not active.get(position.profile_id, True):
            status = "flattening"
        yield "positions", {
            "id": position.id, "broker_account_id": accounts.get(position.profile_id),
            "strategy_id": position.profile_id, "symbol": position.symbol, "asset_class": asset_class(position.symbol),
            "quantity": position.qty, "average_entry_price": position.avg_entry_price, "status": status,
            "opened_at": position.opened_at, "closed_at": position.closed_at,
        }


def _others(conn: Connection) -> Others:
    enabled = {str(row.id): row.status in ENABLED for row in conn.execute(select(strategies.c.id, strategies.c.status))}
    quarantined = [str(row.id) for row in conn.execute(select(orders.c.id).where(orders.c.status == QUARANTINE))]
    return Others(enabled, quarantined)


SHAPE = BotShape(
    name="strategy",
    metadata=metadata,
    parts=(
        Part(broker_accounts, "id"),
        Part(strategies, "id", insert_only=("status",), touch="updated_at"),
        Part(strategy_assignments, "strategy_id"),
        Part(trade_proposals, "id"),
        Part(orders, "id", touch="updated_at", guard=("status", (QUARANTINE,))),
        Part(positions, "id"),
    ),
    rows=_rows,
    others=_others,
)
