from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy.exc import IntegrityError

from sources.botdb import broker_accounts, orders, profiles


def seed_profile(conn: Connection, now: datetime) -> None:
    conn.execute(insert(broker_accounts).values(id="acct-1", api_key_id="key-1", label="main"))
    conn.execute(
        insert(profiles).values(id="p-1", name="momentum", status="active", account_id="acct-1", updated_at=now)
    )


def test_timestamps_round_trip_as_aware_utc(bot_engine: Engine) -> None:
    created = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    with bot_engine.begin() as conn:
        seed_profile(conn, created)
        conn.execute(
            insert(orders).values(
                id="o-1",
                profile_id="p-1",
                symbol="AAPL",
                side="buy",
                qty=1,
                status="pending_new",
                client_order_id="c-1",
                created_at=created,
                updated_at=created + timedelta(hours=1),
            )
        )
    with bot_engine.connect() as conn:
        row = conn.execute(select(orders.c.created_at, orders.c.updated_at)).one()
        cutoff = datetime(2026, 11, 24, 12, 30, tzinfo=UTC)
        older = conn.execute(select(orders.c.id).where(orders.c.updated_at < cutoff)).all()
    assert row.created_at == created and row.created_at.tzinfo is not None
    assert older == []


def test_order_status_must_be_an_alpaca_status_or_unknown(bot_engine: Engine) -> None:
    now = datetime.now(UTC)
    with bot_engine.begin() as conn:
        seed_profile(conn, now)
    with pytest.raises(IntegrityError), bot_engine.begin() as conn:
        conn.execute(
            insert(orders).values(
                id="o-1",
                profile_id="p-1",
                symbol="AAPL",
                side="buy",
                qty=1,
                status="lost",
                client_order_id="c-1",
                created_at=now,
                updated_at=now,
            )
        )
