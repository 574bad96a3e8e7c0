"""Orders: the stale rules compiled to SQL, the statements that read orders, and the rows they build.

The stale rules are tried in order and the first that matches an order decides, so a rule's predicate
excludes what earlier rules matched: statuses an unconditional rule took are left out of later rules
(keeping plain ``status IN (...) AND clock < cutoff`` predicates the database can serve from an index),
and an earlier rule with an order-type/time-in-force condition is negated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    and_,
    case,
    false,
    func,
    not_,
    null,
    or_,
    select,
    tuple_,
    type_coerce,
)

from sources.botdata.rows import BotOrder, OrderClass
from sources.botdata.schema import Schema, present_in, status_in
from sources.mapping import OrdersMapping, words


@dataclass(frozen=True)
class StaleRules:
    predicate: ColumnElement[bool]  # the order is stale at `now`
    clock: ColumnElement[datetime]  # the clock of the rule that decides the order


def stale_rules(schema: Schema, now: datetime, default_sla: float) -> StaleRules:
    mapping, part = schema.mapping.orders, schema.orders
    ci = mapping.statuses.case_insensitive
    status = part.col(mapping.status)
    taken: set[str] = set()  # statuses an earlier unconditional rule decided
    conditional: list[tuple[set[str], Any]] = []  # earlier conditional rules: their statuses and match
    stale: list[Any] = []
    clocks: list[tuple[Any, ColumnElement[datetime]]] = []
    for rule in mapping.stale:
        own = [word for word in (rule.status or mapping.statuses.working) if _fold(word, ci) not in taken]
        if not own:
            continue
        folded = set(words(own, ci))
        conditions = [present_in(part.col(getattr(mapping, name)), getattr(rule, name), ci)
                      for name in ("order_type", "time_in_force") if getattr(rule, name)]
        match = and_(status_in(status, own, ci), *conditions)
        decided = and_(match, *[not_(earlier) for seen, earlier in conditional if seen & folded])
        if not rule.never:
            assert rule.clock is not None
            clock = part.col(rule.clock)
            cutoff = now - timedelta(seconds=rule.after_seconds or default_sla)
            stale.append(and_(decided, clock < cutoff))
            clocks.append((decided, clock))
        if rule.conditional:
            conditional.append((folded, match))
        else:
            taken |= folded
    predicate = or_(*stale) if stale else false()
    if not clocks:
        return StaleRules(predicate, cast(ColumnElement[datetime], null()))
    first = clocks[0][1]
    if all(clock is first for _, clock in clocks):
        return StaleRules(predicate, first)
    return StaleRules(predicate, type_coerce(case(*clocks), first.type))


def _fold(word: str, case_insensitive: bool) -> str:
    return word.lower() if case_insensitive else word


def quarantined(schema: Schema) -> Any:
    mapping = schema.mapping.orders
    return status_in(schema.orders.col(mapping.status), mapping.statuses.quarantined, mapping.statuses.case_insensitive)


def backlog_statement(schema: Schema, now: datetime, default_sla: float) -> Select[Any]:
    """Per profile: stale orders, the oldest stale clock, quarantined orders (one statement, 0s included)."""
    rules, held = stale_rules(schema, now, default_sla), quarantined(schema)
    profiles, profile_id = schema.profile_ids()
    orders = schema.orders
    assert orders.profile is not None
    joined = profiles.outerjoin(orders.by_profile, and_(orders.profile == profile_id, or_(rules.predicate, held)))
    return (
        select(
            profile_id,
            func.coalesce(func.sum(case((rules.predicate, 1), else_=0)), 0),
            type_coerce(func.min(case((rules.predicate, rules.clock), else_=None)), rules.clock.type),
            func.coalesce(func.sum(case((held, 1), else_=0)), 0),
        )
        .select_from(joined)
        .group_by(profile_id)
    )


def stale_listing(schema: Schema, now: datetime, default_sla: float, profile: str | None, limit: int) -> Any:
    """Stale orders with the clock their rule measures from (`stale_since`), oldest first."""
    rules = stale_rules(schema, now, default_sla)
    query = select(*order_columns(schema), rules.clock.label("stale_since")).select_from(schema.orders.joined)
    return _for_profile(schema, query.where(rules.predicate), profile).order_by(rules.clock).limit(limit)


def quarantined_listing(schema: Schema, profile: str | None, limit: int) -> Any:
    mapping = schema.mapping.orders
    query = select(*order_columns(schema)).select_from(schema.orders.joined).where(quarantined(schema))
    clock = schema.orders.col(mapping.updated_at or mapping.created_at)
    return _for_profile(schema, query, profile).order_by(clock).limit(limit)


def symbol_listing(schema: Schema, profile: str, symbols: Sequence[str], limit: int) -> Any:
    """The profile's orders in `symbols`, newest first."""
    mapping, part = schema.mapping.orders, schema.orders
    query = select(*order_columns(schema)).select_from(part.joined).where(part.col(mapping.symbol).in_(symbols))
    return _for_profile(schema, query, profile).order_by(part.col(mapping.created_at).desc()).limit(limit)


def filled_since(schema: Schema, since: datetime) -> Any:
    """(symbol, orders) of the orders filled (a filled word) and created since `since`."""
    mapping, part = schema.mapping.orders, schema.orders
    symbol = part.col(mapping.symbol)
    filled = status_in(part.col(mapping.status), mapping.statuses.filled, mapping.statuses.case_insensitive)
    query = select(symbol, func.count()).select_from(part.base).where(filled, part.col(mapping.created_at) >= since)
    return query.group_by(symbol)


def last_events(schema: Schema, pairs: Sequence[tuple[str, str]]) -> Any:
    """(account, symbol, latest event) of the orders in the given (account, symbol)s, account ids in the account
    column's own type; None when orders reach no account. A working order's event is its placement (its update
    time may be the sync's heartbeat, the stale rules' clock); an ended order's is its last update (the fill)."""
    mapping, part = schema.mapping.orders, schema.orders
    account = part.account
    if account is None:
        return None
    keyed = [(key, symbol) for key, symbol in ((as_key(account, a), s) for a, s in pairs) if key is not NO_MATCH]
    created = part.col(mapping.created_at)
    updated = part.optional(mapping.updated_at)
    event: Any = created
    if updated is not None and mapping.statuses.terminal:
        ended = status_in(part.col(mapping.status), mapping.statuses.terminal, mapping.statuses.case_insensitive)
        event = case((ended, func.coalesce(updated, created)), else_=created)
    symbol = part.col(mapping.symbol)
    where = tuple_(account, symbol).in_(keyed) if keyed else false()
    latest = type_coerce(func.max(event), created.type)
    return select(account, symbol, latest).select_from(part.joined).where(where).group_by(account, symbol)


def statuses_of(schema: Schema, order_ids: Sequence[str]) -> Any:
    ids = schema.orders.col(schema.mapping.orders.id)
    return select(ids, schema.orders.col(schema.mapping.orders.status)).where(in_ids(ids, order_ids))


def _for_profile(schema: Schema, query: Any, profile: str | None) -> Any:
    if profile is None:
        return query
    assert schema.orders.profile is not None
    return query.where(equals(schema.orders.profile, profile))


def order_columns(schema: Schema) -> list[Any]:
    """The columns every order read selects, labelled with the runbook's names."""
    mapping, part = schema.mapping.orders, schema.orders
    columns: dict[str, Any] = {
        "id": part.col(mapping.id),
        "profile": part.profile,
        "account": part.account,
        "symbol": part.col(mapping.symbol),
        "status": part.col(mapping.status),
        "created_at": part.col(mapping.created_at),
    }
    for name in ("side", "qty", "updated_at", "client_order_id", "broker_order_id", "order_type", "time_in_force"):
        columns[name] = part.optional(getattr(mapping, name))
    return [(null() if column is None else column).label(name) for name, column in columns.items()]


class OrderWords:
    """The mapping's order words: status classes, rejection, and sides."""

    def __init__(self, mapping: OrdersMapping) -> None:
        statuses = mapping.statuses
        self._ci = statuses.case_insensitive
        self._classes: dict[str, OrderClass] = {}
        for name in ("working", "terminal", "quarantined"):
            for word in getattr(statuses, name):
                self._classes[self._fold(word)] = name
        self._rejected = {self._fold(word) for word in statuses.rejected}
        sides = mapping.sides or {"buy": ("buy",), "sell": ("sell",)}
        self._sides = {self._fold(word): side for side, side_words in sides.items() for word in side_words}

    def _fold(self, word: str) -> str:
        return word.lower() if self._ci else word

    def status_class(self, status: str) -> OrderClass | None:
        return self._classes.get(self._fold(status))

    def known(self) -> list[str]:
        return list(self._classes)

    def row(self, row: Row[Any], stale_since: datetime | None = None) -> BotOrder:
        m = row._mapping
        status = str(m["status"])
        side = self._sides.get(self._fold(str(m["side"]))) if m["side"] is not None else None
        return BotOrder(
            id=str(m["id"]),
            profile=text_or_none(m["profile"]),
            account=text_or_none(m["account"]),
            symbol=str(m["symbol"]),
            side=side,
            qty=None if m["qty"] is None else float(m["qty"]),
            status=status,
            status_class=self.status_class(status),
            rejected=self._fold(status) in self._rejected,
            created_at=m["created_at"],
            updated_at=m["updated_at"],
            client_order_id=text_or_none(m["client_order_id"]),
            broker_order_id=text_or_none(m["broker_order_id"]),
            order_type=text_or_none(m["order_type"]),
            time_in_force=text_or_none(m["time_in_force"]),
            stale_since=stale_since,
        )


def text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def in_ids(column: ColumnElement[Any], ids: Sequence[str]) -> Any:
    """`column IN ids`, the ids converted to the column's own type (ids that cannot be are left out)."""
    converted = [value for value in (as_key(column, i) for i in ids) if value is not NO_MATCH]
    return column.in_(converted) if converted else false()


NO_MATCH = object()


def as_key(column: ColumnElement[Any], value: str) -> Any:
    """`value` (an id from a label) as the column holds it: an integer column compares with integers.
    NO_MATCH when no row can have it (a non-numeric id for an integer column)."""
    try:
        kind = column.type.python_type
    except NotImplementedError:
        return value
    if kind is int:
        return int(value) if value.strip().lstrip("-").isdigit() else NO_MATCH
    if kind in (str, type(None), object):  # text, or a type nobody declared (a raw-SQL query's column)
        return value
    try:
        return kind(value)
    except (TypeError, ValueError):
        return NO_MATCH


def equals(column: ColumnElement[Any], value: str) -> Any:
    key = as_key(column, value)
    return false() if key is NO_MATCH else column == key
