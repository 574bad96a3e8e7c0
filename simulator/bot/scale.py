"""Bulk seeding for benchmarks: millions of orders, fast (PostgreSQL COPY, SQLite chunked executemany).

The tables are dropped and recreated. Each profile holds one open position (with its filled entry
order); `working_share` of the orders are working, `stale_share` of those stale (a tenth of the stale
ones older than 24 h, a fifth unknown to the broker); the rest are terminal, spread over 30 days. A fixed
RNG seed makes the data reproducible for a given `now`.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert

from common.db import is_sqlite, write_transaction
from simulator.bot.seed import account_id, api_key_id, profile_account
from simulator.broker.market import price_of
from sources.botdb import broker_accounts, drop_schema, metadata, orders, positions, profiles

ORDER_COLUMNS = ("id", "profile_id", "symbol", "side", "qty", "status", "client_order_id", "broker_order_id",
                 "created_at", "updated_at")
WORKING = ("new", "pending_new", "accepted", "partially_filled")
TERMINAL = (("filled", 0.70), ("canceled", 0.92), ("expired", 0.97), ("rejected", 1.0))
SQLITE_INSERT = (
    "INSERT INTO orders (id, profile_id, symbol, side, qty, status, client_order_id, broker_order_id, created_at, "
    "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
SQLITE_CHUNK = 20_000
SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"


@dataclass(frozen=True)
class ScalePlan:
    profiles: int
    accounts: int
    orders: int
    working_share: float
    stale_share: float
    symbols: tuple[str, ...]
    stale_after_seconds: float
    rng_seed: int = 7

    @property
    def working(self) -> int:
        return min(round(self.orders * self.working_share), self.orders)

    @property
    def stale(self) -> int:
        return round(self.working * self.stale_share)


class OrderRows:
    """Generates the order rows (tuples in ORDER_COLUMNS order) for a plan."""

    def __init__(self, plan: ScalePlan, now: datetime) -> None:
        self._plan = plan
        self._now = now
        self._rng = random.Random(plan.rng_seed)

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def _terminal_status(self) -> str:
        roll = self._rng.random()
        return next(status for status, cumulative in TERMINAL if roll <= cumulative)

    def _row(self, index: int, status: str, updated: datetime, broker_id: str | None) -> tuple[Any, ...]:
        plan = self._plan
        profile = index % plan.profiles + 1
        symbol = plan.symbols[(profile - 1) % len(plan.symbols)]
        side = "buy" if self._rng.random() < 0.6 else "sell"
        return (f"o-{index:09d}", f"p-{profile}", symbol, side, float(self._rng.randint(1, 100)), status,
                f"scale-{index:09d}", broker_id, updated - timedelta(seconds=30), updated)

    def _working(self, index: int, stale: bool) -> tuple[Any, ...]:
        rng, after = self._rng, self._plan.stale_after_seconds
        if not stale:
            return self._row(index, rng.choice(WORKING), self._now - timedelta(seconds=rng.random() * after * 0.2),
                             self._uuid())
        age = 86_400 + rng.random() * 172_800 if rng.random() < 0.1 else after * (2 + rng.random() * 18)
        broker_id = None if rng.random() < 0.2 else self._uuid()
        return self._row(index, rng.choice(WORKING), self._now - timedelta(seconds=age), broker_id)

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        plan, rng = self._plan, self._rng
        entries = min(plan.profiles, plan.orders - plan.working)
        for index in range(plan.orders):
            if index < plan.working:
                yield self._working(index, stale=index < plan.stale)
            elif index < plan.working + entries:
                yield self._row(index, "filled", self._now - timedelta(hours=6), self._uuid())
            else:
                updated = self._now - timedelta(seconds=rng.random() * 30 * 86_400)
                yield self._row(index, self._terminal_status(), updated, self._uuid())


def _small_tables(engine: Engine, plan: ScalePlan, now: datetime) -> None:
    accounts = [{"id": account_id(i), "api_key_id": api_key_id(account_id(i)), "label": f"bench {i}"}
                for i in range(1, plan.accounts + 1)]
    rows = [{"id": f"p-{i}", "name": f"strategy {i}", "status": "active",
             "account_id": profile_account(i, plan.accounts), "updated_at": now} for i in range(1, plan.profiles + 1)]
    held = [{"profile_id": f"p-{i}", "symbol": plan.symbols[(i - 1) % len(plan.symbols)], "qty": 10.0 * (i % 5 + 1),
             "avg_entry_price": price_of(plan.symbols[(i - 1) % len(plan.symbols)]), "status": "open",
             "opened_at": now - timedelta(hours=6), "closed_at": None, "updated_at": now - timedelta(hours=6)}
            for i in range(1, plan.profiles + 1)]
    with write_transaction(engine) as conn:
        conn.execute(insert(broker_accounts), accounts)
        conn.execute(insert(profiles), rows)
        conn.execute(insert(positions), held)


def _copy_postgres(engine: Engine, rows: OrderRows) -> None:
    raw = engine.raw_connection()
    try:
        cursor = raw.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy(f"COPY orders ({', '.join(ORDER_COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        raw.commit()
    finally:
        raw.close()


def _sqlite_time(value: datetime) -> str:
    """The text SQLAlchemy stores for a UTC timestamp on SQLite (naive UTC)."""
    return value.astimezone(UTC).strftime(SQLITE_TIME)


def _insert_sqlite(engine: Engine, rows: OrderRows) -> None:
    sql = SQLITE_INSERT
    raw = engine.raw_connection()
    try:
        connection = raw.driver_connection
        connection.execute("BEGIN")  # type: ignore[union-attr]
        chunk: list[tuple[Any, ...]] = []
        for row in rows:
            chunk.append((*row[:8], _sqlite_time(row[8]), _sqlite_time(row[9])))
            if len(chunk) >= SQLITE_CHUNK:
                connection.executemany(sql, chunk)  # type: ignore[union-attr]
                chunk = []
        if chunk:
            connection.executemany(sql, chunk)  # type: ignore[union-attr]
        connection.execute("COMMIT")  # type: ignore[union-attr]
    finally:
        raw.close()


def scale_seed(engine: Engine, plan: ScalePlan, now: datetime) -> dict[str, Any]:
    """Drop and recreate the bot's tables and bulk-load them; return counts and seconds taken."""
    started = time.monotonic()
    drop_schema(engine)
    metadata.create_all(engine)
    _small_tables(engine, plan, now)
    secondary = sorted(orders.indexes, key=lambda index: str(index.name))
    for index in secondary:  # building them once after the load is much faster than maintaining them
        index.drop(engine)
    rows = OrderRows(plan, now)
    (_insert_sqlite if is_sqlite(engine) else _copy_postgres)(engine, rows)
    for index in secondary:
        index.create(engine)
    return {
        "accounts": plan.accounts, "profiles": plan.profiles, "positions": plan.profiles, "orders": plan.orders,
        "working_orders": plan.working, "stale_orders": plan.stale, "seconds": round(time.monotonic() - started, 2),
    }
