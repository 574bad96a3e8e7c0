"""Read-only checks of a mapping against the bot's data, for a readiness check (`python -m doctor`): whether
each reference links its rows (a join that links nothing reads as "no profile"), what the database plans
for each of the gateway's statements and how long the real read takes, whether an id names one row, one
order to rehearse a write on, and timestamp columns whose type does not hold the mapping's format."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, Engine, Executable, Select, event, func, inspect, or_, select
from sqlalchemy.exc import SQLAlchemyError

from sources.botdata.orders import OrderWords, equals, order_columns
from sources.botdata.relations import reason_of
from sources.botdata.rows import BotOrder
from sources.botdata.schema import Schema, status_in


@dataclass(frozen=True)
class Link:
    """How many rows of a part a reference follows, and how many reach nothing (NULL)."""

    key: str  # the mapping key, e.g. orders.profile
    rows: int
    unlinked: int
    error: str = ""  # the database refused the statement (e.g. a join comparing text with integers)


@dataclass(frozen=True)
class Plan:
    """A statement's plan as the database explains it, and the real read (its first `limit` rows), timed."""

    name: str
    lines: tuple[str, ...]
    rows: int
    seconds: float
    error: str = ""


class Diagnostics:
    def __init__(self, engine: Engine, schema: Schema, words: OrderWords, clock: Callable[[], datetime]) -> None:
        self._engine, self._schema, self._words, self._clock = engine, schema, words, clock

    def timestamp_problems(self) -> list[str]:
        return self._schema.relations.timestamp_problems()

    def links(self) -> list[Link]:
        found = []
        with self._engine.connect() as conn:
            for key, statement in self._link_statements().items():
                try:
                    rows, linked = conn.execute(statement, {"now": self._clock()}).one()
                except SQLAlchemyError as exc:
                    conn.rollback()
                    found.append(Link(key, 0, 0, reason_of(exc)))
                    continue
                found.append(Link(key, int(rows), int(rows) - int(linked)))
        return found

    def _link_statements(self) -> dict[str, Any]:
        schema, mapping = self._schema, self._schema.mapping
        found: dict[str, Any] = {}
        if mapping.profiles.table:
            pairs = schema.profile_accounts("linked_profiles")
            found["profiles.account"] = select(func.count(), func.count(pairs.c.account)).select_from(pairs)
        for name, part in (("orders", schema.orders), ("positions", schema.positions)):
            if part.profile is not None:
                found[f"{name}.profile"] = select(func.count(), func.count(part.profile)).select_from(part.by_profile)
            if part.account is not None:
                found[f"{name}.account"] = select(func.count(), func.count(part.account)).select_from(part.joined)
        return found

    def explain(self, name: str, statement: Executable, limit: int = 100) -> Plan:
        """EXPLAIN (SQLite: EXPLAIN QUERY PLAN) `statement` LIMITed to `limit` rows (unless it has a LIMIT of its
        own), and run it: its plan, how many rows it read, how long the read took."""
        if isinstance(statement, Select) and getattr(statement, "_limit_clause", None) is None:
            statement = statement.limit(limit)
        plan: list[str] = []
        spent = [0.0]

        def capture(conn: Connection, cursor: Any, sql: str, parameters: Any, context: Any, many: bool) -> None:
            started = time.perf_counter()
            prefix = "EXPLAIN QUERY PLAN " if conn.dialect.name == "sqlite" else "EXPLAIN "
            cursor.execute(prefix + sql, parameters)
            plan.extend(str(row[-1]) for row in cursor.fetchall())
            spent[0] += time.perf_counter() - started

        with self._engine.connect() as conn:
            event.listen(conn, "before_cursor_execute", capture)
            started = time.perf_counter()
            try:
                result = conn.execute(statement, {"now": self._clock()})
                rows = len(result.fetchmany(limit)) if result.returns_rows else 0
                result.close()
            except SQLAlchemyError as exc:
                return Plan(name, tuple(plan), 0, time.perf_counter() - started - spent[0], reason_of(exc))
            finally:
                event.remove(conn, "before_cursor_execute", capture)
        return Plan(name, tuple(plan), rows, time.perf_counter() - started - spent[0])

    def stale_index_missing(self) -> list[str]:
        """The stale rules' clocks that no index of the orders' table serves as ``(status, clock)``; empty when
        every one is served, or the orders are a raw-SQL query (its own business)."""
        mapping = self._schema.mapping.orders
        if self._schema.mapping.query(mapping.table) is not None:
            return []
        schema_name, _, table_name = mapping.table.rpartition(".")
        with self._engine.connect() as conn:
            indexes = inspect(conn).get_indexes(table_name, schema=schema_name or None)
        served = {tuple(index["column_names"][:2]) for index in indexes}
        clocks = sorted({rule.clock for rule in mapping.stale if rule.clock})
        return [clock for clock in clocks if (mapping.status, clock) not in served]

    def rows_with_id(self, part: Literal["profiles", "orders"], value: str) -> int:
        """How many rows of the profiles' (or orders') table carry `value` in the mapped id column."""
        mapping = self._schema.mapping
        table_name, id_column = (
            (mapping.profiles.table, mapping.profiles.id) if part == "profiles" else (mapping.orders.table,
                                                                                      mapping.orders.id)
        )
        assert table_name is not None
        table = self._schema.relations.relation(table_name)
        statement = select(func.count()).select_from(table).where(equals(table.c[id_column], value))
        with self._engine.connect() as conn:
            return int(conn.execute(statement, {"now": self._clock()}).scalar_one())

    def sample_order(self) -> BotOrder | None:
        """One order to rehearse quarantine on: a working one when there is one."""
        schema, mapping = self._schema, self._schema.mapping.orders
        status = schema.orders.col(mapping.status)
        working = status_in(status, mapping.statuses.working, mapping.statuses.case_insensitive)
        query = select(*order_columns(schema)).select_from(schema.orders.joined)
        with self._engine.connect() as conn:
            for condition in (working, or_(status.is_(None), status.is_not(None))):
                row = conn.execute(query.where(condition).limit(1), {"now": self._clock()}).first()
                if row is not None:
                    return self._words.row(row)
        return None
