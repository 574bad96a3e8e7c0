"""The mapping's relations on one database: its tables reflected (timestamp columns typed by the mapping's
formats) and its raw-SQL queries as subqueries; every table and column the mapping names is checked to
exist, with an error naming the mapping key."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    FromClause,
    MetaData,
    Table,
    TextClause,
    bindparam,
    column,
    inspect,
    select,
    text,
)
from sqlalchemy.exc import NoSuchTableError, SQLAlchemyError

from common.config import ConfigError
from sources.botdata.timestamps import UTCDateTime, timestamp_type
from sources.mapping import BotMapping, ColumnUse, LockEntries, column_uses

PREFIX = "bot_db.mapping"


def _bound(statement: TextClause, params: dict[str, Any]) -> TextClause:
    """A query's SQL with its parameters bound; ``:now`` is typed (an aware UTC time) and bound per statement."""
    if "now" in statement.compile().binds:
        statement = statement.bindparams(bindparam("now", type_=UTCDateTime()))
    return statement.bindparams(**params) if params else statement


def reason_of(exc: BaseException) -> str:
    """The first line of a database error, without SQLAlchemy's wrapping."""
    return str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:300]


class Relations:
    def __init__(self, mapping: BotMapping, conn: Connection) -> None:
        self._mapping = mapping
        self._tables: dict[str, Table] = {}
        self._kinds: dict[str, dict[str, Any]] = {}  # each table's columns as the database declares them
        self._dialect = conn.dialect.name
        self._uses: dict[str, list[ColumnUse]] = defaultdict(list)
        for use in column_uses(mapping):
            self._uses[use.relation].append(use)
        for name in sorted(self._uses):
            if mapping.query(name) is None:
                self._tables[name] = self._reflect(conn, name, self._uses[name])

    def table(self, name: str) -> Table:
        """A real table of the mapping (the target of writes)."""
        return self._tables[name]

    def relation(self, name: str, alias: str | None = None) -> FromClause:
        """The table or query called `name`, under `alias` when one is given (each join gets its own)."""
        query = self._mapping.query(name)
        if query is None:
            table = self._tables[name]
            return table.alias(alias) if alias else table
        timestamps = {use.column: self._format(use) for use in self._uses[name] if use.timestamp}
        columns = [column(c, timestamp_type(timestamps[c]) if c in timestamps else None) for c in query.columns]
        return _bound(text(query.sql), query.params).columns(*columns).subquery(alias or name)

    def check(self, conn: Connection, now: datetime) -> None:
        """Read one row of every table through the columns the mapping names, and run every query (no rows):
        ConfigError naming the key when one cannot be read or lacks a declared column."""
        for name, table in self._tables.items():
            columns = sorted({use.column for use in self._uses[name]})
            try:
                conn.execute(select(*[table.c[c] for c in columns]).limit(1)).all()
            except SQLAlchemyError as exc:
                key = self._uses[name][0].table_key
                raise ConfigError(f"{PREFIX}.{key}: cannot read {name!r}: {reason_of(exc)}") from None
        for name, query in self._mapping.queries.items():
            probe = _bound(text(f"SELECT * FROM ({query.sql}) AS q LIMIT 0"), query.params)  # noqa: S608
            try:
                returned = set(conn.execute(probe, {"now": now}).keys())
            except SQLAlchemyError as exc:
                raise ConfigError(f"{PREFIX}.queries.{name}.sql: {reason_of(exc)}") from None
            missing = [c for c in query.columns if c not in returned]
            if missing:
                raise ConfigError(
                    f"{PREFIX}.queries.{name}.columns: the query returns no column {', '.join(map(repr, missing))} "
                    f"(it returns {', '.join(sorted(returned)) or 'nothing'})"
                )

    def timestamp_problems(self) -> list[str]:
        """One line per mapped timestamp column whose declared type does not hold the mapping's format (a text
        column as a clock, a number read as a timestamp, a zone-less PostgreSQL column read as aware)."""
        problems = []
        for name, kinds in self._kinds.items():
            for use in self._uses[name]:
                if use.timestamp:
                    fmt, kind = self._format(use), kinds[use.column]
                    wrong = mistyped(fmt, kind, self._dialect)
                    if wrong:
                        problems.append(f"{PREFIX}.{use.key}: column {use.column!r} of {name!r} is {kind}, {wrong}")
        return problems

    def _reflect(self, conn: Connection, name: str, uses: list[ColumnUse]) -> Table:
        schema, _, table_name = name.rpartition(".")
        try:
            found = inspect(conn).get_columns(table_name, schema=schema or None)
        except NoSuchTableError:
            where = f"{PREFIX}.{uses[0].table_key}"
            raise ConfigError(f"{where}: no table or view {name!r} in the bot's database") from None
        except SQLAlchemyError as exc:
            raise ConfigError(f"{PREFIX}.{uses[0].table_key}: cannot inspect {name!r}: {reason_of(exc)}") from None
        reflected: dict[str, Any] = {info["name"]: info["type"] for info in found}
        self._kinds[name] = reflected
        for use in uses:
            if use.column not in reflected:
                raise ConfigError(
                    f"{PREFIX}.{use.key}: no column {use.column!r} in {name!r} (it has {', '.join(sorted(reflected))})"
                )
        timestamps = {use.column: self._format(use) for use in uses if use.timestamp}
        columns = [
            Column(c, timestamp_type(timestamps[c], kind) if c in timestamps else kind) for c, kind in reflected.items()
        ]
        return Table(table_name, MetaData(), *columns, schema=schema or None)

    def _format(self, use: ColumnUse) -> str:
        entries = self._mapping.profiles.entries
        if use.part == "entries" and isinstance(entries, LockEntries) and entries.timestamps:
            return entries.timestamps
        part = use.part if use.part in ("accounts", "profiles", "orders", "positions") else "profiles"
        return self._mapping.timestamps_of(part)  # type: ignore[arg-type]


def mistyped(fmt: str, kind: Any, dialect: str) -> str | None:
    """Why a column of type `kind` cannot hold timestamps stored as `fmt`; None when it can (or cannot be told)."""
    try:
        held = kind.python_type
    except NotImplementedError:
        return None
    epoch = fmt in ("epoch_seconds", "epoch_millis")
    if epoch and held not in (int, float, Decimal):
        return f"not a number (timestamps: {fmt})"
    if not epoch and held is not datetime:
        return f"not a timestamp (timestamps: {fmt})"
    if fmt == "aware" and dialect == "postgresql" and not getattr(kind, "timezone", True):
        return "without a time zone (timestamps: naive_utc)"
    return None


__all__ = ["PREFIX", "Relations", "UTCDateTime", "reason_of"]
