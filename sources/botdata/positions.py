"""Positions: the signed quantity and "open" as the mapping defines them, and the statements that read them.

A symbol's position on an account is the sum of its open rows: one row per position, or several open
trade rows per symbol, sum the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, and_, case, false, func, not_, null, select, tuple_, type_coerce

from sources.botdata.orders import NO_MATCH, as_key, equals, text_or_none
from sources.botdata.rows import BotPosition
from sources.botdata.schema import Schema, status_in, truthy


def signed_quantity(schema: Schema) -> Any:
    quantity, part = schema.mapping.positions.quantity, schema.positions
    amount = part.col(quantity.column)
    if quantity.side is not None:
        side = part.col(quantity.side.column)
        return case((side.in_(quantity.side.short), -amount), (side.in_(quantity.side.long), amount), else_=None)
    if quantity.short_flag is not None:
        return case((truthy(part.col(quantity.short_flag)), -amount), else_=amount)
    return amount


def is_open(schema: Schema) -> Any:
    rule, part = schema.mapping.positions.open, schema.positions
    if rule.status is not None:
        return status_in(part.col(rule.status.column), rule.status.open, rule.status.case_insensitive)
    if rule.flag is not None:
        return truthy(part.col(rule.flag))
    return part.col(schema.mapping.positions.closed_at or "").is_(None)


def is_closed(schema: Schema) -> Any:
    """Explicitly closed: a closed word when the mapping lists them, else not open."""
    status = schema.mapping.positions.open.status
    if status is not None and status.closed:
        return status_in(schema.positions.col(status.column), status.closed, status.case_insensitive)
    return not_(is_open(schema))


def open_quantities(schema: Schema, account_id: str | None = None) -> Select[Any]:
    """(account, symbol, signed net quantity) of every open position (of one account, when given)."""
    part = schema.positions
    account, symbol = _account(schema), part.col(schema.mapping.positions.symbol)
    only = equals(account, account_id) if account_id is not None else account.is_not(None)
    return (
        select(account, symbol, func.sum(signed_quantity(schema)))
        .select_from(part.joined)
        .where(is_open(schema), only)
        .group_by(account, symbol)
    )


def last_closes(schema: Schema, ghosts: list[tuple[str, str]]) -> Select[Any]:
    """(account, symbol, profile, latest close time) of closed positions for the given (account, symbol)s."""
    part, mapping = schema.positions, schema.mapping.positions
    account, symbol, profile = _account(schema), part.col(mapping.symbol), part.profile
    closed_at = part.optional(mapping.closed_at)
    latest = type_coerce(func.max(closed_at), closed_at.type) if closed_at is not None else null()
    assert profile is not None, "ghosts carry a profile only when positions reach one"
    return (
        select(account, symbol, profile, latest)
        .select_from(part.joined)
        .where(is_closed(schema), profile.is_not(None), tuple_(account, symbol).in_(ghosts))
        .group_by(account, symbol, profile)
    )


def symbol_listing(schema: Schema, profile: str, symbols: Sequence[str], limit: int) -> Any:
    """The profile's position rows in `symbols`, the most recently opened first (none without profiles)."""
    mapping, part = schema.mapping.positions, schema.positions
    query = select(*position_columns(schema)).select_from(part.joined)
    if part.profile is None:
        return query.where(false())
    query = query.where(part.col(mapping.symbol).in_(symbols), equals(part.profile, profile))
    order = part.col(mapping.opened_at or mapping.id)
    return query.order_by(order.desc(), part.col(mapping.id).desc()).limit(limit)


def bought_since_open(schema: Schema, symbols: Sequence[str]) -> Any | None:
    """(account, symbol, filled buys, filled sells, open quantity) of the open positions in `symbols`: the
    orders of the same profile and symbol filled since its earliest open row opened, each order counted once
    however many open rows it has (what a crypto buy paid its fee on: `BotData.bought_since_open`). None when
    the mapping cannot say (no profile on positions or orders, no opened_at, qty, side or filled words, or the
    two tables keep time differently)."""
    mapping, orders_mapping = schema.mapping, schema.mapping.orders
    positions, orders = schema.positions, schema.orders
    words = orders_mapping.statuses
    if (positions.profile is None or orders.profile is None or mapping.positions.opened_at is None
            or orders_mapping.qty is None or orders_mapping.side is None or not words.filled
            or mapping.timestamps_of("orders") != mapping.timestamps_of("positions")):
        return None
    sides = orders_mapping.sides or {"buy": ("buy",), "sell": ("sell",)}
    symbol = positions.col(mapping.positions.symbol)
    held = (
        select(_account(schema).label("account"), positions.profile.label("profile"), symbol.label("symbol"),
               func.min(positions.col(mapping.positions.opened_at)).label("opened_at"),
               func.sum(signed_quantity(schema)).label("qty"))
        .select_from(positions.joined)
        .where(is_open(schema), symbol.in_(list(symbols)))
        .group_by(_account(schema), positions.profile, symbol)
        .subquery("held")
    )
    side, qty = orders.col(orders_mapping.side), orders.col(orders_mapping.qty)
    filled = and_(
        orders.profile == held.c.profile,
        orders.col(orders_mapping.symbol) == held.c.symbol,
        status_in(orders.col(orders_mapping.status), words.filled, words.case_insensitive),
        orders.col(orders_mapping.created_at) >= held.c.opened_at,
    )
    buys = status_in(side, sides.get("buy", ("buy",)), words.case_insensitive)
    sells = status_in(side, sides.get("sell", ("sell",)), words.case_insensitive)
    return (
        select(held.c.account, held.c.symbol, func.sum(case((buys, qty), else_=0.0)),
               func.sum(case((sells, qty), else_=0.0)), func.max(held.c.qty))
        .select_from(held.outerjoin(orders.by_profile, filled))
        .group_by(held.c.account, held.c.profile, held.c.symbol)
    )


def open_listing(schema: Schema, limit: int) -> Any:
    """Open position rows, by profile and symbol."""
    mapping, part = schema.mapping.positions, schema.positions
    order = [column for column in (part.profile, part.col(mapping.symbol), part.col(mapping.id)) if column is not None]
    query = select(*position_columns(schema)).select_from(part.joined).where(is_open(schema))
    return query.order_by(*order).limit(limit)


def last_closes_of(schema: Schema, ghosts: Sequence[tuple[str, str]]) -> Any:
    """`last_closes` for ghosts given as labels: account ids in the account column's own type."""
    account = _account(schema)
    keyed = [(key, symbol) for key, symbol in ((as_key(account, a), s) for a, s in ghosts) if key is not NO_MATCH]
    statement = last_closes(schema, keyed)
    return statement if keyed else statement.where(false())


def position_columns(schema: Schema) -> list[Any]:
    part, mapping = schema.positions, schema.mapping.positions
    status = mapping.open.status
    columns: dict[str, Any] = {
        "id": part.col(mapping.id),
        "profile": part.profile,
        "account": part.account,
        "symbol": part.col(mapping.symbol),
        "qty": signed_quantity(schema),
        "open": case((is_open(schema), True), else_=False),
        "status": part.col(status.column) if status else None,
        "opened_at": part.optional(mapping.opened_at),
        "closed_at": part.optional(mapping.closed_at),
    }
    return [(null() if column is None else column).label(name) for name, column in columns.items()]


def position_row(row: Row[Any]) -> BotPosition:
    m = row._mapping
    return BotPosition(
        id=str(m["id"]),
        profile=text_or_none(m["profile"]),
        account=text_or_none(m["account"]),
        symbol=str(m["symbol"]),
        qty=float(m["qty"] or 0.0),
        open=bool(m["open"]),
        status=text_or_none(m["status"]),
        opened_at=m["opened_at"],
        closed_at=m["closed_at"],
    )


def _account(schema: Schema) -> ColumnElement[Any]:
    account = schema.positions.account
    assert account is not None
    return account
