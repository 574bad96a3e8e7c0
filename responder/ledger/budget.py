"""The blast-radius budget, counted in the ledger so that it holds across threads, processes and replicas.

A spend is a row per step in ``responder_budget_spend``; the count over the window is taken while the
budget's row in ``responder_budget_locks`` is locked (``SELECT .. FOR UPDATE`` on PostgreSQL; on SQLite
the write transaction's ``BEGIN IMMEDIATE`` already serialises writers), so two replicas racing for the
last slot cannot both get it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, func, select

from common.db import write_transaction
from responder.ledger.schema import budget_locks, budget_spend
from responder.ledger.steps import Lease, holds


class LeaseLost(Exception):
    """The step's lease is no longer this worker's."""


def try_spend(
    engine: Engine, lease: Lease, budget: str, limit: int, window_seconds: float, now: datetime, force: bool
) -> bool:
    """Spend one unit for the step; False when the window is exhausted (unless `force`, an operator's approval)."""
    with write_transaction(engine) as conn:
        if not holds(conn, lease):
            raise LeaseLost(lease.step_id)
        conn.execute(select(budget_locks.c.budget).where(budget_locks.c.budget == budget).with_for_update())
        spent = select(budget_spend.c.id).where(budget_spend.c.step_id == lease.step_id)
        if conn.execute(spent).first() is not None:
            return True  # this step already holds a unit (re-claimed after a crash)
        if not force and used(conn, budget, window_seconds, now) >= limit:
            return False
        conn.execute(budget_spend.insert().values(budget=budget, step_id=lease.step_id, spent_at=now))
        return True


def used(conn: Connection, budget: str, window_seconds: float, now: datetime) -> int:
    since = now - timedelta(seconds=window_seconds)
    query = select(func.count()).where(budget_spend.c.budget == budget, budget_spend.c.spent_at > since)
    return int(conn.execute(query).scalar_one())


def remaining(engine: Engine, budget: str, limit: int, window_seconds: float, now: datetime) -> int:
    with engine.connect() as conn:
        return max(0, limit - used(conn, budget, window_seconds, now))
