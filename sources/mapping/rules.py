"""How the parts of a mapping must fit together, checked before anything connects: every column a part
names (for the database check), raw SQL parameters and columns, writes only to real tables, status words
that mean one thing each, and stale rules that decide every working status."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import text

from sources.mapping.entries import ColumnEntries, LockEntries

if TYPE_CHECKING:
    from sources.mapping.model import BotMapping, OrdersMapping, Ref

Problem = tuple[str, str]  # (dotted key, message)


@dataclass(frozen=True)
class ColumnUse:
    relation: str  # a table of the database or a query of the mapping
    column: str
    key: str  # the mapping key naming the column
    table_key: str  # the mapping key naming the relation
    timestamp: bool = False

    @property
    def part(self) -> str:
        """The part of the mapping the use belongs to: accounts, profiles, orders, positions or entries."""
        return "entries" if self.key.startswith("profiles.entries.") else self.key.split(".", 1)[0]


def column_uses(mapping: BotMapping) -> list[ColumnUse]:
    """Every column the mapping names, with the relation it belongs to and the key that names it."""
    uses: list[ColumnUse] = []
    accounts, profiles, orders, positions = mapping.accounts, mapping.profiles, mapping.orders, mapping.positions
    if accounts.table:
        uses += _plain(accounts.table, "accounts", {"id": accounts.id, "key_id": accounts.key_id})
    if profiles.table:
        uses += _plain(profiles.table, "profiles", {"id": profiles.id, "name": profiles.name})
        uses += _ref(profiles.table, profiles.account, "profiles.account")
        if isinstance(profiles.entries, ColumnEntries):
            uses += _plain(profiles.table, "profiles.entries", {"column": profiles.entries.column})
            uses += _plain(profiles.table, "profiles.entries", {"touch": profiles.entries.touch}, timestamp=True)
    if isinstance(profiles.entries, LockEntries):
        uses += _lock(profiles.entries)
    uses += _orders(orders)
    plain = {"id": positions.id, "symbol": positions.symbol, "quantity.column": positions.quantity.column,
             "quantity.short_flag": positions.quantity.short_flag, "open.flag": positions.open.flag}
    if positions.quantity.side:
        plain["quantity.side.column"] = positions.quantity.side.column
    if positions.open.status:
        plain["open.status.column"] = positions.open.status.column
    uses += _plain(positions.table, "positions", plain)
    times = {"opened_at": positions.opened_at, "closed_at": positions.closed_at}
    uses += _plain(positions.table, "positions", times, timestamp=True)
    uses += _ref(positions.table, positions.profile, "positions.profile")
    uses += _ref(positions.table, positions.account, "positions.account")
    return uses


def _orders(orders: OrdersMapping) -> list[ColumnUse]:
    table = orders.table
    names = ("id", "symbol", "side", "qty", "status", "order_type", "time_in_force", "client_order_id",
             "broker_order_id")
    uses = _plain(table, "orders", {name: getattr(orders, name) for name in names})
    times = {"created_at": orders.created_at, "updated_at": orders.updated_at}
    times["quarantine.touch"] = orders.quarantine.touch
    times.update({f"stale.{n}.clock": rule.clock for n, rule in enumerate(orders.stale)})
    uses += _plain(table, "orders", times, timestamp=True)
    return uses + _ref(table, orders.profile, "orders.profile") + _ref(table, orders.account, "orders.account")


def _lock(lock: LockEntries) -> list[ColumnUse]:
    key = "profiles.entries"
    uses = _plain(lock.table, key, {"profile_column": lock.profile_column, "active": lock.active})
    uses += _plain(lock.table, key, {f"values.{c}": c for c in lock.values} | {f"match.{c}": c for c in lock.match})
    return uses + _plain(lock.table, key, {"starts_at": lock.starts_at, "ends_at": lock.ends_at}, timestamp=True)


def _plain(relation: str, prefix: str, columns: Mapping[str, str | None], timestamp: bool = False) -> list[ColumnUse]:
    table_key = f"{prefix.split('.')[0]}.table" if prefix != "profiles.entries" else "profiles.entries.table"
    return [
        ColumnUse(relation, column, f"{prefix}.{name}", table_key, timestamp)
        for name, column in columns.items()
        if column
    ]


def _ref(relation: str, ref: Ref | None, key: str) -> list[ColumnUse]:
    if ref is None or ref.column is None:
        return []
    table_key = f"{key.split('.')[0]}.table"
    uses = []
    for n, hop in enumerate(ref.through):
        uses.append(ColumnUse(relation, hop.from_, f"{key}.through.{n}.from", table_key))
        table_key = f"{key}.through.{n}.table"
        uses.append(ColumnUse(hop.table, hop.key, f"{key}.through.{n}.key", table_key))
        relation = hop.table
    return [*uses, ColumnUse(relation, ref.column, f"{key}.column", table_key)]


def first_problem(mapping: BotMapping) -> Problem | None:
    """The first way the mapping's parts do not fit together, or None."""
    return next(_problems(mapping), None)


def _problems(mapping: BotMapping) -> Iterator[Problem]:
    yield from _writes(mapping)
    yield from _queries(mapping)
    yield from _profiles_and_accounts(mapping)
    yield from _order_words(mapping.orders)
    yield from _stale_rules(mapping.orders)
    yield from _positions(mapping)


def _queries(mapping: BotMapping) -> Iterator[Problem]:
    for name, query in mapping.queries.items():
        if "now" in query.params:
            yield f"queries.{name}.params.now", ":now is the current time; give the parameter another name"
        used = set(text(query.sql).compile().binds)
        for param in sorted(used - set(query.params) - {"now"}):
            yield f"queries.{name}.params", f":{param} is used by the SQL but not given in params"
        for param in sorted(set(query.params) - used):
            yield f"queries.{name}.params.{param}", "not used by the SQL"
    for use in column_uses(mapping):
        relation = mapping.query(use.relation)
        if relation is not None and use.column not in relation.columns:
            yield use.key, f"{use.column!r} is not one of the columns of query {use.relation!r}"


def _writes(mapping: BotMapping) -> Iterator[Problem]:
    entries = mapping.profiles.entries
    if isinstance(entries, ColumnEntries) and (mapping.profiles.table is None or mapping.query(mapping.profiles.table)):
        yield "profiles.table", "the column mechanism writes the profile's row: it needs a real table"
    if isinstance(entries, LockEntries) and mapping.query(entries.table):
        yield "profiles.entries.table", "locks are INSERTed: it needs a real table, not a query"
    if mapping.query(mapping.orders.table):
        yield "orders.table", "quarantine writes the order's row: it needs a real table, not a query"


def _profiles_and_accounts(mapping: BotMapping) -> Iterator[Problem]:
    profiles, accounts = mapping.profiles, mapping.accounts
    if (profiles.table is None) == (not profiles.static):
        yield "profiles.table", "give exactly one of table or static (a fixed list of profiles)"
    if profiles.table and profiles.account is None:
        yield "profiles.account", "required: how a profile reaches its broker account"
    ids = [profile.id for profile in profiles.static]
    if len(set(ids)) != len(ids):
        yield "profiles.static", "profile ids must be unique"
    for key, ref in (("orders.profile", mapping.orders.profile), ("positions.profile", mapping.positions.profile)):
        if ref is not None and ref.value is not None and ref.value not in ids:
            yield f"{key}.value", f"{ref.value!r} is not one of profiles.static"
    if accounts.key_id is None and not accounts.key_ids:
        yield "accounts.key_id", "give key_id (a column) or key_ids (account id -> broker key id)"
    if accounts.table is None and accounts.key_id is not None:
        yield "accounts.key_id", "a key_id column needs accounts.table"
    if mapping.positions.account is None and mapping.positions.profile is None:
        yield "positions.account", "give account or profile: positions must reach a broker account"


def _order_words(orders: OrdersMapping) -> Iterator[Problem]:
    statuses = orders.statuses
    fold = _folder(statuses.case_insensitive)
    seen: dict[str, str] = {}
    for name in ("working", "terminal", "quarantined"):
        for word in getattr(statuses, name):
            if fold(word) in seen:
                yield f"orders.statuses.{name}", f"{word!r} is also in {seen[fold(word)]}"
            seen.setdefault(fold(word), name)
    if fold(orders.quarantine.write) not in {fold(word) for word in statuses.quarantined}:
        yield "orders.quarantine.write", f"{orders.quarantine.write!r} is not one of orders.statuses.quarantined"
    for name in ("rejected", "filled"):
        for word in getattr(statuses, name):
            if seen.get(fold(word)) != "terminal":
                yield f"orders.statuses.{name}", f"{word!r} is not one of orders.statuses.terminal"
    sides = [word for words in orders.sides.values() for word in words]
    if len(set(sides)) != len(sides):
        yield "orders.sides", "a word means both buy and sell"


def _stale_rules(orders: OrdersMapping) -> Iterator[Problem]:
    fold = _folder(orders.statuses.case_insensitive)
    working = {fold(word) for word in orders.statuses.working}
    decided: set[str] = set()
    for n, rule in enumerate(orders.stale):
        for word in rule.status:
            if fold(word) not in working:
                yield f"orders.stale.{n}.status", f"{word!r} is not one of orders.statuses.working"
        for name in ("order_type", "time_in_force"):
            if getattr(rule, name) and getattr(orders, name) is None:
                yield f"orders.stale.{n}.{name}", f"needs the column orders.{name}"
        if not rule.conditional:
            decided |= {fold(word) for word in rule.status} if rule.status else working
    for word in orders.statuses.working:
        if fold(word) not in decided:
            yield "orders.stale", f"working status {word!r} is decided by no rule without order_type/time_in_force"


def _positions(mapping: BotMapping) -> Iterator[Problem]:
    positions = mapping.positions
    if positions.open.closed_at_null and positions.closed_at is None:
        yield "positions.open.closed_at_null", "needs the column positions.closed_at"
    side = positions.quantity.side
    if side is not None and set(side.long) & set(side.short):
        yield "positions.quantity.side.short", "a value means both long and short"
    status = positions.open.status
    if status is not None:
        fold = _folder(status.case_insensitive)
        if {fold(v) for v in status.open} & {fold(v) for v in status.closed}:
            yield "positions.open.status.closed", "a value means both open and closed"


def _folder(case_insensitive: bool) -> Callable[[str], str]:
    return _lower if case_insensitive else _same


def _lower(word: str) -> str:
    return word.lower()


def _same(word: str) -> str:
    return word


def words(values: Iterable[str], case_insensitive: bool) -> list[str]:
    """`values` as the database is compared with them (lowercase when matching is case-insensitive)."""
    return [value.lower() for value in values] if case_insensitive else list(values)
