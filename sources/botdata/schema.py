"""The mapping compiled against one database: for orders and positions, the relation, the joins their
profile and account references need, and the expressions the gateway's statements are built from.

A reference through other tables becomes LEFT OUTER JOINs of fresh aliases (two references through the
same table never collide); a part without its own account reference reaches its account through its
profile (``profile -> account`` pairs, from the profiles table or the static list).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    FromClause,
    Select,
    and_,
    func,
    literal,
    select,
    true,
    union_all,
)

from sources.botdata.relations import Relations
from sources.mapping import BotMapping, Ref, words


@dataclass(frozen=True)
class Part:
    """Orders or positions: the relation, its joins, and where its profile and account ids are.
    `by_profile` joins only what the profile needs (the stale backlog); `joined` what both need."""

    base: FromClause
    by_profile: FromClause
    joined: FromClause
    profile: ColumnElement[Any] | None
    account: ColumnElement[Any] | None

    def col(self, name: str) -> ColumnElement[Any]:
        return self.base.c[name]

    def optional(self, name: str | None) -> ColumnElement[Any] | None:
        return self.base.c[name] if name else None


class Schema:
    def __init__(self, mapping: BotMapping, relations: Relations) -> None:
        self.mapping = mapping
        self.relations = relations
        self._pairs = self._profile_account_pairs()
        orders, positions = mapping.orders, mapping.positions
        self.orders = self._part("orders", orders.table, orders.profile, orders.account)
        self.positions = self._part("positions", positions.table, positions.profile, positions.account)

    def profile_accounts(self, alias: str = "profile_accounts") -> FromClause:
        """Every (profile, account) pair the mapping knows, as a relation with those two columns."""
        return self._pairs.subquery(alias)

    def profile_ids(self) -> tuple[FromClause, ColumnElement[Any]]:
        """The profiles (a relation and its id column): the table, or the static list."""
        profiles = self.mapping.profiles
        if profiles.table:
            table = self.relations.relation(profiles.table)
            return table, table.c[profiles.id]
        listed = _literal_rows([(p.id,) for p in profiles.static], ("profile",)).subquery("listed_profiles")
        return listed, listed.c.profile

    def _profile_account_pairs(self) -> Select[Any] | CompoundSelect[Any]:
        profiles = self.mapping.profiles
        if not profiles.table:
            return _literal_rows([(p.id, p.account) for p in profiles.static], ("profile", "account"))
        table = self.relations.relation(profiles.table)
        account, joined = self.follow(table, table, profiles.account, "profile_account")
        assert account is not None  # checked by the mapping's rules
        return select(table.c[profiles.id].label("profile"), account.label("account")).select_from(joined)

    def _part(self, name: str, relation: str, profile_ref: Ref | None, account_ref: Ref | None) -> Part:
        base = self.relations.relation(relation)
        profile, by_profile = self.follow(base, base, profile_ref, f"{name}_profile")
        if account_ref is not None:
            account, joined = self.follow(base, by_profile, account_ref, f"{name}_account")
        else:
            pairs = self.profile_accounts(f"{name}_profile_accounts")
            assert profile is not None  # checked by the mapping's rules
            joined = by_profile.outerjoin(pairs, pairs.c.profile == profile)
            account = pairs.c.account
        return Part(base, by_profile, joined, profile, account)

    def follow(
        self, base: FromClause, joined: FromClause, ref: Ref | None, alias: str
    ) -> tuple[ColumnElement[Any] | None, FromClause]:
        """The expression `ref` names on rows of `base`, and `joined` with the joins it needs."""
        if ref is None:
            return None, joined
        if ref.value is not None:
            return literal(ref.value), joined
        previous = base
        for n, hop in enumerate(ref.through):
            table = self.relations.relation(hop.table, f"{alias}_{n}")
            joined = joined.outerjoin(table, table.c[hop.key] == previous.c[hop.from_])
            previous = table
        assert ref.column is not None
        return previous.c[ref.column], joined


def _literal_rows(rows: list[tuple[str, ...]], names: tuple[str, ...]) -> Select[Any] | CompoundSelect[Any]:
    selects = [select(*[literal(value).label(name) for value, name in zip(row, names, strict=True)]) for row in rows]
    return cast(Select[Any], selects[0]) if len(selects) == 1 else union_all(*selects)


def status_in(expr: ColumnElement[Any], values: tuple[str, ...] | list[str], case_insensitive: bool) -> Any:
    """`expr` is one of `values` (compared lowercase when case-insensitive)."""
    if case_insensitive:
        return func.lower(expr).in_(words(values, True))
    return expr.in_(list(values))


def present_in(expr: ColumnElement[Any], values: tuple[str, ...], case_insensitive: bool) -> Any:
    """`expr` is set and one of `values`: its negation holds for NULL (an order without a type)."""
    return and_(expr.is_not(None), status_in(expr, values, case_insensitive))


def truthy(expr: ColumnElement[Any]) -> Any:
    """A boolean column is true (or an integer flag is not 0)."""
    return expr == true() if holds_booleans(expr) else expr != 0


def holds_booleans(expr: Any) -> bool:
    """Whether a column holds booleans (or is of a type nobody declared, which flags usually are)."""
    try:
        kind = expr.type.python_type
    except NotImplementedError:
        return True
    return kind in (bool, type(None), object)
