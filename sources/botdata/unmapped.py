"""Values present in the bot's database that the mapping does not name: an order status, an enabled-state
value, a position status or side. Such a value must be loud (exported, alerted on), never counted
silently as "not working". One statement per field, at most `cap` + 1 distinct values, most rows first."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, FromClause, Select, func, not_, or_, select

from sources.botdata.rows import UnmappedValues
from sources.botdata.schema import Schema, status_in
from sources.botdata.switches import shown
from sources.mapping import ColumnEntries

MAX_LABEL = 100
NULL_LABEL = "<null>"


@dataclass(frozen=True)
class Field:
    name: str  # the mapping key, e.g. orders.status
    relation: FromClause
    column: ColumnElement[Any]
    known: tuple[Any, ...]
    case_insensitive: bool = False

    def statement(self, cap: int, unmapped_only: bool = True) -> Select[Any]:
        """The field's values (only those the mapping does not name, by default) with their rows, the most
        frequent first, at most `cap` + 1 of them."""
        if self.case_insensitive:
            known = status_in(self.column, tuple(str(v) for v in self.known), True)
        else:
            known = self.column.in_(self.known)
        rows = func.count().label("rows")
        query = select(self.column, rows).select_from(self.relation)
        if unmapped_only:
            query = query.where(or_(self.column.is_(None), not_(known)))
        return query.group_by(self.column).order_by(rows.desc(), self.column).limit(cap + 1)

    def read(self, conn: Connection, cap: int, params: dict[str, Any], unmapped_only: bool = True) -> UnmappedValues:
        found = conn.execute(self.statement(cap, unmapped_only), params).all()
        counts = {_label(value): int(count) for value, count in found[:cap]}
        return UnmappedValues(self.name, counts, truncated=len(found) > cap)


def fields(schema: Schema) -> list[Field]:
    """The mapped columns whose values the mapping enumerates."""
    mapping = schema.mapping
    orders, positions = schema.orders, schema.positions
    statuses = mapping.orders.statuses
    known_statuses = (*statuses.working, *statuses.terminal, *statuses.quarantined)
    found = [Field("orders.status", orders.base, orders.col(mapping.orders.status), known_statuses,
                   statuses.case_insensitive)]
    if mapping.orders.side:
        sides = mapping.orders.sides or {"buy": ("buy",), "sell": ("sell",)}
        known_sides = tuple(word for side_words in sides.values() for word in side_words)
        found.append(Field("orders.side", orders.base, orders.col(mapping.orders.side), known_sides,
                           statuses.case_insensitive))
    entries = mapping.profiles.entries
    if isinstance(entries, ColumnEntries) and mapping.profiles.table:
        table = schema.relations.relation(mapping.profiles.table)
        found.append(Field("profiles.entries", table, table.c[entries.column], (*entries.enabled, *entries.stopped)))
    status = mapping.positions.open.status
    if status is not None:
        found.append(Field("positions.open.status", positions.base, positions.col(status.column),
                           (*status.open, *status.closed), status.case_insensitive))
    side = mapping.positions.quantity.side
    if side is not None:
        found.append(Field("positions.quantity.side", positions.base, positions.col(side.column),
                           (*side.long, *side.short)))
    return found


def _label(value: Any) -> str:
    text = shown(value)
    return NULL_LABEL if text is None else text[:MAX_LABEL]
