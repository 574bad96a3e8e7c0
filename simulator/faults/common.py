"""Helpers the fault injectors share: finding profiles and positions, writing orders to both sides."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from simulator.broker.book import SimOrder, new_order_id
from simulator.broker.market import price_of
from simulator.faults.options import FaultError
from sources.botdb import POSITION_OPEN, orders, positions, profiles


@dataclass(frozen=True)
class ProfileRef:
    id: str
    account: str
    status: str


def pick_profile(conn: Connection, kind: str, profile: str | None, account: str | None,
                 default: str | None = None) -> ProfileRef:
    """The profile named, else the first of the account named, else `default`, else the first profile."""
    query = select(profiles.c.id, profiles.c.account_id, profiles.c.status).order_by(profiles.c.id)
    if profile:
        row = conn.execute(query.where(profiles.c.id == profile)).first()
        if row is None:
            raise FaultError(f"{kind}: --profile: unknown profile {profile!r}")
        if account and row.account_id != account:
            raise FaultError(f"{kind}: profile {profile!r} trades through {row.account_id!r}, not {account!r}")
    elif account:
        row = conn.execute(query.where(profiles.c.account_id == account).limit(1)).first()
        if row is None:
            raise FaultError(f"{kind}: --account: no profile trades through {account!r}")
    else:
        row = conn.execute(query.where(profiles.c.id == default)).first() if default else None
        row = row or conn.execute(query.limit(1)).first()
        if row is None:
            raise FaultError(f"{kind}: the bot database has no profiles")
    return ProfileRef(row.id, row.account_id, row.status)


def open_position(conn: Connection, profile: str, symbol: str | None) -> Any:
    """The profile's newest open position (in `symbol` when given), or None."""
    query = select(positions).where(positions.c.profile_id == profile, positions.c.status == POSITION_OPEN)
    if symbol:
        query = query.where(positions.c.symbol == symbol)
    return conn.execute(query.order_by(positions.c.id.desc()).limit(1)).first()


def client_order_id(profile: str, symbol: str, purpose: str) -> str:
    return f"{profile}-{symbol.lower().replace('/', '')}-{purpose}-{uuid.uuid4().hex[:10]}"


def insert_bot_order(conn: Connection, profile: str, symbol: str, side: str, qty: float, status: str,
                     created: datetime, updated: datetime, purpose: str, at_broker: bool) -> dict[str, Any]:
    """Insert one bot order; `at_broker` decides whether it carries a broker order id."""
    row = {
        "id": f"o-{uuid.uuid4().hex[:16]}", "profile_id": profile, "symbol": symbol, "side": side, "qty": qty,
        "status": status, "client_order_id": client_order_id(profile, symbol, purpose),
        "broker_order_id": new_order_id() if at_broker else None, "created_at": created, "updated_at": updated,
    }
    conn.execute(insert(orders).values(**row))
    return row


def broker_copy(row: dict[str, Any], account: str, status: str, order_type: str = "market") -> SimOrder:
    """The broker's record of a bot order row (same ids), with the given broker status."""
    updated: datetime = row["updated_at"]
    return SimOrder(
        id=row["broker_order_id"], client_order_id=row["client_order_id"], account=account, symbol=row["symbol"],
        side=row["side"], qty=row["qty"], status=status, created_at=row["created_at"], updated_at=updated,
        order_type=order_type, limit_price=price_of(row["symbol"]) if order_type == "limit" else None,
        failed_at=updated if status == "rejected" else None,
    )


def order_summary(row: dict[str, Any]) -> dict[str, Any]:
    return {key: row[key] for key in ("id", "client_order_id", "broker_order_id", "profile_id", "symbol", "side",
                                      "qty", "status")}


def exit_side(qty: float) -> str:
    """The side that closes a position of signed quantity `qty`."""
    return "sell" if qty > 0 else "buy"


def entry_side(qty: float) -> str:
    return "buy" if qty > 0 else "sell"
