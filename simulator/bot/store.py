"""The simulated bot's reads and writes on its own database (health counts, trades, order sync)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, CursorResult, Engine, func, insert, select, update

from common.db import write_transaction
from simulator.broker.book import SimOrder
from sources.botdb import (
    POSITION_CLOSED,
    POSITION_OPEN,
    PROFILE_ACTIVE,
    QUARANTINED_STATUS,
    WORKING_STATUSES,
    orders,
    positions,
    profiles,
)
from sources.instruments import Instrument

CHUNK = 500


def inserted_id(result: CursorResult[Any]) -> int:
    """The primary key of the row an INSERT just created."""
    key = result.inserted_primary_key
    if key is None:
        raise RuntimeError("the INSERT returned no primary key")
    return int(key[0])


@dataclass(frozen=True)
class Backlog:
    stale: int
    quarantined: int


@dataclass(frozen=True)
class TradeProfile:
    id: str
    account: str
    status: str


def backlog(engine: Engine, now: datetime, stale_after: timedelta) -> Backlog:
    """Working orders not updated within the SLA, and quarantined (``unknown``) orders."""
    stale_q = select(func.count()).where(orders.c.status.in_(WORKING_STATUSES),
                                         orders.c.updated_at < now - stale_after)
    quarantined_q = select(func.count()).where(orders.c.status == QUARANTINED_STATUS)
    with engine.connect() as conn:
        return Backlog(conn.execute(stale_q).scalar_one(), conn.execute(quarantined_q).scalar_one())


def status_summary(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        active = conn.execute(select(func.count()).where(profiles.c.status == PROFILE_ACTIVE)).scalar_one()
        open_positions = conn.execute(select(func.count()).where(positions.c.status == POSITION_OPEN)).scalar_one()
        working = conn.execute(select(func.count()).where(orders.c.status.in_(WORKING_STATUSES))).scalar_one()
    return {"active_profiles": active, "open_positions": open_positions, "working_orders": working}


def trade_profile(engine: Engine, requested: str | None) -> TradeProfile | None:
    """The profile a trade is for: the one named, else the first active one."""
    query = select(profiles.c.id, profiles.c.account_id, profiles.c.status)
    if requested:
        query = query.where(profiles.c.id == requested)
    else:
        query = query.where(profiles.c.status == PROFILE_ACTIVE).order_by(profiles.c.id).limit(1)
    with engine.connect() as conn:
        row = conn.execute(query).first()
    return TradeProfile(row.id, row.account_id, row.status) if row else None


def move_position(conn: Connection, profile: str, symbol: str, delta: float, price: float, now: datetime) -> None:
    """Apply a signed fill to the profile's open position in `symbol` (opening or closing it)."""
    row = conn.execute(
        select(positions.c.id, positions.c.qty).where(
            positions.c.profile_id == profile, positions.c.symbol == symbol, positions.c.status == POSITION_OPEN
        ).order_by(positions.c.id.desc()).limit(1)
    ).first()
    if row is None:
        conn.execute(insert(positions).values(
            profile_id=profile, symbol=symbol, qty=delta, avg_entry_price=price, status=POSITION_OPEN,
            opened_at=now, closed_at=None, updated_at=now,
        ))
        return
    qty = row.qty + delta
    values: dict[str, object] = {"qty": qty, "updated_at": now}
    if abs(qty) < 1e-9:
        values.update(qty=row.qty, status=POSITION_CLOSED, closed_at=now)
    conn.execute(update(positions).where(positions.c.id == row.id).values(**values))


def _insert_order(conn: Connection, profile: str, order: SimOrder, now: datetime) -> str:
    """Store an order the broker accepted; return its bot id."""
    order_id = f"o-{uuid.uuid4().hex[:16]}"
    conn.execute(insert(orders).values(
        id=order_id, profile_id=profile, symbol=order.symbol, side=order.side, qty=order.qty,
        status=order.status, client_order_id=order.client_order_id, broker_order_id=order.id,
        created_at=now, updated_at=now,
    ))
    return order_id


def record_trade(engine: Engine, profile: str, order: SimOrder, now: datetime) -> str:
    """Store an order the broker accepted and, when it filled, the position it moved; return its id."""
    with write_transaction(engine) as conn:
        order_id = _insert_order(conn, profile, order, now)
        if order.status == "filled":
            delta = order.qty if order.side == "buy" else -order.qty
            move_position(conn, profile, order.symbol, delta, order.filled_avg_price or 0.0, now)
    return order_id


def apply_order_updates(engine: Engine, updates: list[SimOrder], now: datetime) -> int:
    """Mirror broker order changes onto the bot's still-working orders; return how many changed."""
    changed = 0
    if not updates:
        return 0
    with write_transaction(engine) as conn:
        for order in updates:
            result = conn.execute(
                update(orders)
                .where(orders.c.client_order_id == order.client_order_id, orders.c.status.in_(WORKING_STATUSES))
                .values(status=order.status, updated_at=now)
            )
            changed += result.rowcount
    return changed


def touch_fresh_orders(engine: Engine, now: datetime, stale_after: timedelta, stuck: frozenset[str]) -> int:
    """Refresh updated_at of working orders that are not stale yet and not held stuck by a fault."""
    with engine.connect() as conn:
        ids = [
            row.id for row in conn.execute(
                select(orders.c.id).where(orders.c.status.in_(WORKING_STATUSES),
                                          orders.c.updated_at >= now - stale_after)
            ) if row.id not in stuck
        ]
    if not ids:
        return 0
    with write_transaction(engine) as conn:
        for start in range(0, len(ids), CHUNK):
            conn.execute(
                update(orders)
                .where(orders.c.id.in_(ids[start:start + CHUNK]), orders.c.status.in_(WORKING_STATUSES))
                .values(updated_at=now)
            )
    return len(ids)


def open_position_in(engine: Engine, profile: str, held: Instrument) -> Any:
    """The profile's newest open position in `held` (any spelling the bot used), or None."""
    with engine.connect() as conn:
        return conn.execute(
            select(positions.c.id, positions.c.qty).where(
                positions.c.profile_id == profile, positions.c.symbol.in_(held.spellings),
                positions.c.status == POSITION_OPEN,
            ).order_by(positions.c.id.desc()).limit(1)
        ).first()


def record_exit(engine: Engine, profile: str, order: SimOrder, position_id: int, now: datetime) -> str:
    """Store a filled exit order and mark the position it closed as closed (whatever dust stays at the broker)."""
    with write_transaction(engine) as conn:
        order_id = _insert_order(conn, profile, order, now)
        conn.execute(update(positions).where(positions.c.id == position_id, positions.c.status == POSITION_OPEN)
                     .values(status=POSITION_CLOSED, closed_at=now, updated_at=now))
    return order_id
