"""Bulk seeding of the ``strategy`` shape for benchmarks (``python -m simulator seed --bot-shape strategy``).

The same plan and order stream as today's shape (`simulator.bot.scale`), stored as the strategy-table bot
stores it: one trade proposal per order, normalised statuses, no client order id. Working orders that are
not stale are resting GTC limit orders submitted over the last days (never stale: only their
``updated_at`` is old); the stale ones are market orders submitted past the SLA; so the stale counts
equal today's shape's for the same plan. PostgreSQL through COPY, SQLite through chunked inserts.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Table, insert

from common.db import is_sqlite, write_transaction
from simulator.bot.scale import OrderRows, ScalePlan
from simulator.bot.seed import account_id, profile_account
from simulator.bot.shapes import strategy
from simulator.broker.market import price_of

PROPOSAL_COLUMNS = ("id", "strategy_id", "symbol", "side", "created_at")
ORDER_COLUMNS = ("id", "trade_proposal_id", "broker_account_id", "broker_order_id", "symbol", "asset_class", "side",
                 "order_type", "quantity", "status", "submitted_at", "cancelled_at", "created_at", "updated_at")
CHUNK = 20_000


def _small_tables(engine: Engine, plan: ScalePlan, now: datetime) -> None:
    accounts = [{"id": account_id(i), "name": f"bench {i}", "broker": "alpaca", "external_account_id": f"PA{i}",
                 "account_type": "margin", "trading_mode": "paper", "is_enabled": True}
                for i in range(1, plan.accounts + 1)]
    strategies = [{"id": f"p-{i}", "name": f"strategy {i}", "status": "live_eligible", "updated_at": now}
                  for i in range(1, plan.profiles + 1)]
    assignments = [{"strategy_id": f"p-{i}", "broker_account_id": profile_account(i, plan.accounts)}
                   for i in range(1, plan.profiles + 1)]
    held = [{"id": i, "broker_account_id": profile_account(i, plan.accounts), "strategy_id": f"p-{i}",
             "symbol": plan.symbols[(i - 1) % len(plan.symbols)], "asset_class": "us_equity",
             "quantity": 10.0 * (i % 5 + 1), "average_entry_price": price_of(plan.symbols[(i - 1) % len(plan.symbols)]),
             "status": "open", "opened_at": now - timedelta(hours=6), "closed_at": None}
            for i in range(1, plan.profiles + 1)]
    with write_transaction(engine) as conn:
        for table, rows in ((strategy.broker_accounts, accounts), (strategy.strategies, strategies),
                            (strategy.strategy_assignments, assignments), (strategy.positions, held)):
            conn.execute(insert(table), rows)


def _rows(plan: ScalePlan, now: datetime) -> Iterator[tuple[tuple[Any, ...], tuple[Any, ...]]]:
    """(proposal, order) tuples in PROPOSAL_COLUMNS / ORDER_COLUMNS order."""
    sla = timedelta(seconds=plan.stale_after_seconds)
    for row in OrderRows(plan, now):
        order_id, profile, symbol, side, qty, status, _client, broker_id, created, updated = row
        proposal = f"tp-{order_id}"
        word = strategy.NORMALISED.get(status, status)
        working = word == "submitted" or word == "partially_filled"
        stale = working and updated < now - sla
        kind = "market" if stale or not working else "limit"
        submitted = updated - timedelta(seconds=30) if stale or not working else now - (now - created) * 500
        account = profile_account(int(profile[2:]), plan.accounts)
        yield ((proposal, profile, symbol, side, submitted),
               (order_id, proposal, account, broker_id, symbol, "us_equity", side, kind, qty, word, submitted,
                updated if word == "cancelled" else None, submitted, updated))


def _copy_postgres(engine: Engine, plan: ScalePlan, now: datetime) -> None:
    """Two passes over the same (deterministic) stream: the proposals, then the orders."""
    raw = engine.raw_connection()
    try:
        cursor = raw.driver_connection.cursor()  # type: ignore[union-attr]
        for position, (table, columns) in enumerate((("trade_proposals", PROPOSAL_COLUMNS), ("orders", ORDER_COLUMNS))):
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for pair in _rows(plan, now):
                    copy.write_row(pair[position])
        raw.commit()
    finally:
        raw.close()


def _insert_chunks(engine: Engine, plan: ScalePlan, now: datetime) -> None:
    def flush(table: Table, columns: tuple[str, ...], chunk: list[tuple[Any, ...]]) -> None:
        with write_transaction(engine) as conn:
            conn.execute(insert(table), [dict(zip(columns, values, strict=True)) for values in chunk])

    proposals: list[tuple[Any, ...]] = []
    orders: list[tuple[Any, ...]] = []
    for proposal, order in _rows(plan, now):
        proposals.append(proposal)
        orders.append(order)
        if len(orders) >= CHUNK:
            flush(strategy.trade_proposals, PROPOSAL_COLUMNS, proposals)
            flush(strategy.orders, ORDER_COLUMNS, orders)
            proposals, orders = [], []
    if orders:
        flush(strategy.trade_proposals, PROPOSAL_COLUMNS, proposals)
        flush(strategy.orders, ORDER_COLUMNS, orders)


def scale_seed_strategy(engine: Engine, plan: ScalePlan, now: datetime) -> dict[str, Any]:
    """Drop and recreate the strategy shape's tables and bulk-load them; return counts and seconds taken."""
    started = time.monotonic()
    strategy.metadata.drop_all(engine)
    strategy.metadata.create_all(engine)
    _small_tables(engine, plan, now)
    secondary = sorted(strategy.orders.indexes, key=lambda index: str(index.name))
    for index in secondary:
        index.drop(engine)
    (_insert_chunks if is_sqlite(engine) else _copy_postgres)(engine, plan, now)
    for index in secondary:
        index.create(engine)
    return {
        "shape": "strategy", "accounts": plan.accounts, "profiles": plan.profiles, "positions": plan.profiles,
        "orders": plan.orders, "working_orders": plan.working, "stale_orders": plan.stale,
        "seconds": round(time.monotonic() - started, 2),
    }
