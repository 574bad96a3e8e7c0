"""Build the simulated broker's state from the bot's database, so positions start in parity.

The broker position of an account in an instrument is the sum of the open bot positions of that
account's profiles (any spelling), less, for a crypto long, the fee its buys paid in the asset: the bot
records the orders' filled quantity, as a bot in today's shape does. Orders the bot knows a broker id
for become broker orders (a bot ``pending_new`` the broker already accepted shows as ``new``);
quarantined orders and orders without a broker id are unknown to the broker. Every working order is
loaded; of the terminal ones only the most recent `MAX_TERMINAL_ORDERS` (a bulk-seeded history of
millions stays in the database only).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select

from simulator.broker.book import AccountBook, BrokerBook, SimOrder, SimPosition, order_symbol
from simulator.broker.market import CRYPTO_FEE_RATE, CRYPTO_PRECISION, price_of
from sources.botdb import (
    POSITION_OPEN,
    QUARANTINED_STATUS,
    TERMINAL_STATUSES,
    WORKING_STATUSES,
    broker_accounts,
    orders,
    positions,
    profiles,
)
from sources.instruments import instrument

MAX_TERMINAL_ORDERS = 50_000


def _positions(engine: Engine, books: dict[str, AccountBook]) -> None:
    query = (
        select(profiles.c.account_id, positions.c.symbol, positions.c.qty, positions.c.avg_entry_price)
        .join(profiles, profiles.c.id == positions.c.profile_id)
        .where(positions.c.status == POSITION_OPEN)
    )
    sums: dict[tuple[str, str], list[float]] = {}
    with engine.connect() as conn:
        for account, symbol, qty, price in conn.execute(query):
            total = sums.setdefault((account, instrument(symbol).symbol), [0.0, 0.0])
            total[0] += qty
            total[1] += abs(qty) * price
    for (account, symbol), (qty, weighted) in sums.items():
        if abs(qty) > 1e-9 and account in books:
            gross = weighted / max(abs(qty), 1e-9)
            held = instrument(symbol)
            if held.crypto and qty > 0:
                qty = round(qty * (1.0 - CRYPTO_FEE_RATE), CRYPTO_PRECISION)
            books[account].positions[held.position_symbol] = SimPosition(held.position_symbol, qty, round(gross, 6))


def broker_order_from_row(row: Any, account: str) -> SimOrder:
    """The broker's view of one bot order row. A working order's last event at the broker is its acceptance
    (its creation): the bot row's update time is the bot's own sync touching it, nothing the broker did."""
    status = "new" if row.status == "pending_new" else row.status
    filled = status == "filled"
    created: datetime = row.created_at
    updated: datetime = row.updated_at if status in TERMINAL_STATUSES else created
    return SimOrder(
        id=row.broker_order_id, client_order_id=row.client_order_id, account=account, symbol=order_symbol(row.symbol),
        side=row.side, qty=row.qty, status=status, created_at=created, updated_at=updated,
        order_type="market" if filled else "limit", limit_price=None if filled else price_of(row.symbol),
        filled_qty=row.qty if filled else 0.0, filled_avg_price=price_of(row.symbol) if filled else None,
        filled_at=updated if filled else None,
        canceled_at=updated if status == "canceled" else None,
        expired_at=updated if status == "expired" else None,
        failed_at=updated if status == "rejected" else None,
    )


def _orders(engine: Engine, books: dict[str, AccountBook]) -> None:
    columns = (profiles.c.account_id, orders.c.id, orders.c.client_order_id, orders.c.broker_order_id,
               orders.c.symbol, orders.c.side, orders.c.qty, orders.c.status, orders.c.created_at,
               orders.c.updated_at)
    base = select(*columns).join(profiles, profiles.c.id == orders.c.profile_id).where(
        orders.c.broker_order_id.is_not(None), orders.c.status != QUARANTINED_STATUS
    )
    working = base.where(orders.c.status.in_(WORKING_STATUSES))
    terminal = (base.where(orders.c.status.not_in(WORKING_STATUSES))
                .order_by(orders.c.updated_at.desc()).limit(MAX_TERMINAL_ORDERS))
    with engine.connect() as conn:
        for query in (working, terminal):
            for row in conn.execute(query):
                book = books.get(row.account_id)
                if book is not None and row.client_order_id not in book.by_client:
                    book.add(broker_order_from_row(row, row.account_id))


def load_book(engine: Engine, book: BrokerBook) -> dict[str, int]:
    """Replace `book`'s state with the one the bot's database implies; return what was loaded."""
    with engine.connect() as conn:
        rows = conn.execute(select(broker_accounts.c.id, broker_accounts.c.api_key_id))
        keys = {key: account for account, key in rows}
    books = {account: AccountBook() for account in keys.values()}
    _positions(engine, books)
    _orders(engine, books)
    book.replace(keys, books)
    return {
        "accounts": len(books),
        "positions": sum(len(b.positions) for b in books.values()),
        "orders": sum(len(b.orders) for b in books.values()),
    }
