"""Ledger plumbing: the engine, schema creation, the dialect's INSERT .. ON CONFLICT DO NOTHING, JSON columns."""

from __future__ import annotations

import json
import time
from typing import Any

from sqlalchemy import Connection, Engine, Insert, Table, event, inspect, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError, SQLAlchemyError
from sqlalchemy.schema import CreateColumn

from common.db import make_engine, normalise_url, write_transaction
from responder.ledger.schema import DEACTIVATION_BUDGET, alerts, budget_locks, metadata, runs, steps

# Ledger transactions are a few milliseconds long; a webhook must not wait long for a lock (SQLite's write
# lock, a PostgreSQL table or row lock) or a statement (Alertmanager times out and re-sends): answer 503
# after this and let it retry.
LEDGER_SQLITE_BUSY_MS = 3000
LEDGER_STATEMENT_TIMEOUT_MS = 10_000
# Readiness waits less than a delivery for the ledger's locks: a probe answers within its own timeout.
READINESS_LOCK_TIMEOUT_MS = 500


# A pooled connection is pinged before use only when it sat idle this long: a webhook burst then costs
# no extra round trip per delivery, while a connection left over from before a database restart is still
# found dead before use (one used a moment ago that broke is retried by the webhook: record_alerts).
PING_IF_IDLE_SECONDS = 1.0


def make_ledger_engine(
    url: str, lock_timeout_ms: int = LEDGER_SQLITE_BUSY_MS, statement_timeout_ms: int = LEDGER_STATEMENT_TIMEOUT_MS
) -> Engine:
    """An engine for the ledger whose writes give up instead of hanging: SQLite waits at most
    `lock_timeout_ms` for the write lock; PostgreSQL sessions run with ``lock_timeout`` and
    ``statement_timeout`` (a locked table or a stuck statement is an error, and the webhook answers 503)."""
    if make_url(normalise_url(url)).get_backend_name() == "postgresql":
        options = f"-c lock_timeout={int(lock_timeout_ms)} -c statement_timeout={int(statement_timeout_ms)}"
        engine = make_engine(url, pool_pre_ping=False, connect_args={"connect_timeout": 5, "options": options})
    else:
        engine = make_engine(url, sqlite_busy_ms=lock_timeout_ms, pool_pre_ping=False)
    _ping_if_idle(engine)
    return engine


def _ping_if_idle(engine: Engine) -> None:
    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_IF_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            # The pool replaces the connection and tries again (what pool_pre_ping does).
            raise DisconnectionError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from exc


def insert_ignoring_conflicts(conn: Connection | str, table: Table) -> Insert:
    """``INSERT .. ON CONFLICT DO NOTHING`` in the connection's dialect (or the dialect named)."""
    dialect = conn if isinstance(conn, str) else conn.dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    raise NotImplementedError(f"ledger dialect {dialect!r} is not supported")


DELIVERY_TABLES = (alerts.name, runs.name, steps.name)

SCHEMA_LOCK = 7_406_001  # PostgreSQL advisory lock: replicas starting together create the schema one at a time


def create_schema(engine: Engine) -> None:
    """Create the ledger's tables and budget rows where they do not exist yet, and add the columns a ledger
    created by an earlier version lacks (safe for concurrent starts)."""
    with write_transaction(engine) as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK})
        metadata.create_all(conn)
        upgrade_schema(conn)
        conn.execute(insert_ignoring_conflicts(conn, budget_locks).values(budget=DEACTIVATION_BUDGET))


def upgrade_schema(conn: Connection) -> list[str]:
    """Add the columns a ledger created by an earlier version lacks (``create_all`` only adds tables).

    Every column added after the first release is nullable, so ``ALTER TABLE .. ADD COLUMN`` works on
    SQLite and PostgreSQL alike and existing rows read as "not set". Returns what was added.
    """
    inspector = inspect(conn)
    added: list[str] = []
    for table in metadata.sorted_tables:
        present = {column["name"] for column in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in present:
                continue
            if not column.nullable:
                raise RuntimeError(f"ledger upgrade: {table.name}.{column.name} must be nullable to be added")
            ddl = CreateColumn(column).compile(dialect=conn.dialect)
            conn.execute(text(f"ALTER TABLE {table.name} ADD COLUMN {ddl}"))
            added.append(f"{table.name}.{column.name}")
    return added


def dumps(value: Any) -> str:
    """Serialise a JSON column (stable key order, non-JSON values as strings)."""
    return json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def ledger_writable(engine: Engine) -> bool:
    """True when a delivery could be recorded now: a write transaction opens (SQLite: the write lock is taken)
    and, on PostgreSQL, the tables a delivery writes can be locked for writing within
    READINESS_LOCK_TIMEOUT_MS (a table locked by a migration or a stuck session is not ready)."""
    try:
        with write_transaction(engine) as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text(f"SET LOCAL lock_timeout = {READINESS_LOCK_TIMEOUT_MS}"))
                conn.execute(text(f"LOCK TABLE {', '.join(DELIVERY_TABLES)} IN ROW EXCLUSIVE MODE"))
            else:
                conn.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return False
    return True
