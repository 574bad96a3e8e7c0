"""Write bot state (accounts, profiles, orders, positions) straight into a test database."""

from __future__ import annotations

import itertools
from datetime import datetime

from sqlalchemy import Engine, insert, select

from sources.botdb import broker_accounts, orders, positions, profiles

_ids = itertools.count(1)


def add_account(engine: Engine, account_id: str, api_key_id: str | None = None) -> None:
    with engine.begin() as conn:
        conn.execute(insert(broker_accounts).values(id=account_id, api_key_id=api_key_id or f"key-{account_id}"))


def add_profile(engine: Engine, profile_id: str, account_id: str, now: datetime, status: str = "active") -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(profiles).values(
                id=profile_id, name=profile_id, status=status, account_id=account_id, updated_at=now
            )
        )


def add_order(
    engine: Engine,
    profile_id: str,
    status: str,
    updated_at: datetime,
    symbol: str = "AAPL",
    side: str = "buy",
    qty: float = 1.0,
) -> str:
    order_id = f"o-{next(_ids)}"
    with engine.begin() as conn:
        conn.execute(
            insert(orders).values(
                id=order_id,
                profile_id=profile_id,
                symbol=symbol,
                side=side,
                qty=qty,
                status=status,
                client_order_id=f"c-{order_id}",
                broker_order_id=None,
                created_at=updated_at,
                updated_at=updated_at,
            )
        )
    return order_id


def add_position(engine: Engine, profile_id: str, symbol: str, qty: float, status: str, now: datetime) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(positions).values(
                profile_id=profile_id,
                symbol=symbol,
                qty=qty,
                avg_entry_price=100.0,
                status=status,
                opened_at=now,
                closed_at=now if status == "closed" else None,
                updated_at=now,
            )
        )


def profile_account(engine: Engine, profile_id: str) -> tuple[str, str] | None:
    """(account id, status) of a profile as its row holds them, or None when it does not exist."""
    with engine.connect() as conn:
        row = conn.execute(select(profiles.c.account_id, profiles.c.status).where(profiles.c.id == profile_id)).first()
    return (row.account_id, row.status) if row else None
