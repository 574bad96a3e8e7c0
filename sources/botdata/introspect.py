"""What a bot's database holds, for a first mapping (`python -m doctor --suggest`): each table's columns
with a kind, its primary key, and the distinct values of the columns a caller calls enumerated (status,
side, enabled state... at most `cap` + 1 values each, the most frequent first). Read-only."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import Column, Engine, MetaData, Table, func, inspect, select
from sqlalchemy.exc import SQLAlchemyError

Kind = Literal["text", "integer", "number", "boolean", "timestamp", "timestamp_tz", "other"]


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    kind: Kind
    values: tuple[Any, ...] = ()  # distinct values (enumerated columns only), the most frequent first
    many: bool = False  # more distinct values than were read


@dataclass(frozen=True)
class TableInfo:
    name: str
    columns: tuple[ColumnInfo, ...]
    primary_key: tuple[str, ...]

    def column(self, name: str) -> ColumnInfo | None:
        return next((c for c in self.columns if c.name == name), None)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


Enumerated = Callable[[str, str, Kind], bool]  # (table, column, kind) -> read its distinct values


def describe(engine: Engine, enumerated: Enumerated, cap: int = 30) -> list[TableInfo]:
    """Every table of the database's default schema, with the distinct values of its enumerated columns."""
    found = []
    with engine.connect() as conn:
        inspector = inspect(conn)
        for name in sorted(inspector.get_table_names()):
            reflected = inspector.get_columns(name)
            kinds = {info["name"]: _kind(info["type"]) for info in reflected}
            table = Table(name, MetaData(), *[Column(info["name"], info["type"]) for info in reflected])
            columns = []
            for column_name, kind in kinds.items():
                values: tuple[Any, ...] = ()
                many = False
                if enumerated(name, column_name, kind):
                    column = table.c[column_name]
                    rows = func.count().label("rows")
                    statement = select(column, rows).group_by(column).order_by(rows.desc()).limit(cap + 1)
                    try:
                        read = [row[0] for row in conn.execute(statement)]
                    except SQLAlchemyError:
                        conn.rollback()
                        read = []
                    values, many = tuple(read[:cap]), len(read) > cap
                columns.append(ColumnInfo(column_name, kind, values, many))
            key = tuple(inspector.get_pk_constraint(name).get("constrained_columns") or ())
            found.append(TableInfo(name, tuple(columns), key))
    return found


def _kind(kind: Any) -> Kind:
    try:
        held = kind.python_type
    except NotImplementedError:
        return "other"
    if held is bool:
        return "boolean"
    if held is int:
        return "integer"
    if held in (float, Decimal):
        return "number"
    if held is datetime:
        return "timestamp_tz" if getattr(kind, "timezone", False) else "timestamp"
    return "text" if held is str else "other"
