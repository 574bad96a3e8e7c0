"""`BotData`: the one gateway to the bot's data. Every read returns typed rows (`sources/botdata/rows.py`);
every write is compare-and-set and reads back its effect. Where the data lives is the mapping's business
(``bot_db.mapping``); nothing outside `sources/` writes SQL against the bot's tables.

The mapping is compiled against the database on first use (tables reflected, columns checked), so a
process starts while the bot's database is down; `check()` does it eagerly and reads one row of each
table, for start-up checks that must fail fast.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import requests
from sqlalchemy import Engine, Executable, select

from common.config import BotDbConfig
from common.db import make_engine, write_transaction
from sources.botdata import orders as order_sql
from sources.botdata import positions as position_sql
from sources.botdata import profiles as profile_sql
from sources.botdata.compiled import CompiledMapping
from sources.botdata.diagnostics import Diagnostics
from sources.botdata.orders import OrderWords, equals, text_or_none
from sources.botdata.rows import (
    Account,
    BotOrder,
    BotPosition,
    EntriesChange,
    Profile,
    ProfileAccount,
    ProfileBacklog,
    QuarantineResult,
    UnmappedValues,
)
from sources.botdata.schema import Schema
from sources.botdata.switches import Switch
from sources.botdata.unmapped import fields
from sources.botdata.writes import Writes
from sources.hooks import HookSpec
from sources.mapping import BotMapping

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def _later(one: datetime | None, other: datetime | None) -> bool:
    return one is not None and (other is None or one > other)


def open_bot_data(
    section: BotDbConfig,
    clock: Clock = utc_now,
    http: requests.Session | None = None,
    control: Mapping[str, HookSpec] | None = None,
    **engine_options: Any,
) -> BotData:
    """The gateway for ``bot_db`` (its URL, mapping and SLA); nothing connects until the first use."""
    engine = make_engine(section.url, **engine_options)
    return BotData(engine, section.mapping, section.stale_after_seconds, clock, http, control)


class BotData:
    def __init__(
        self,
        engine: Engine,
        mapping: BotMapping,
        stale_after_seconds: float,
        clock: Clock = utc_now,
        http: requests.Session | None = None,
        control: Mapping[str, HookSpec] | None = None,
    ) -> None:
        self._engine, self.mapping, self._sla, self._clock = engine, mapping, stale_after_seconds, clock
        self._compiled = CompiledMapping(engine, mapping, http, control or {})
        self._words = OrderWords(mapping.orders)
        self._spelling = mapping.symbols.spelling()  # the bot's own crypto spelling <-> the instrument's

    @property
    def engine(self) -> Engine:
        """The bot database's engine (for checks that EXPLAIN or time statements; tests that seed it)."""
        return self._engine

    def dispose(self) -> None:
        self._engine.dispose()

    def check(self) -> None:
        """Compile the mapping and read every mapped table and query once: ConfigError naming the key."""
        with self._engine.connect() as conn:
            self._compiled.schema(conn).relations.check(conn, self._clock())

    # --- reads -------------------------------------------------------------------------------------------

    def stale_backlog(self, now: datetime) -> list[ProfileBacklog]:
        """Per profile (0s included): stale orders, the oldest one's clock, quarantined orders. One statement."""
        rows = self._read(lambda schema: order_sql.backlog_statement(schema, now, self._sla), now)
        return [ProfileBacklog(str(p), int(stale), oldest, int(held)) for p, stale, oldest, held in rows]

    def accounts(self) -> list[Account]:
        mapping = self.mapping.accounts
        if not mapping.table:
            known = {pair.account for pair in self.profile_accounts()} | set(mapping.key_ids)
            return [Account(account, mapping.key_ids.get(account)) for account in sorted(known)]
        return [self._account(row) for row in self._read(profile_sql.accounts_statement)]

    def account(self, account_id: str) -> Account | None:
        """One broker account with its key id, or None when the mapping knows no such account."""
        if not self.mapping.accounts.table:
            return next((a for a in self.accounts() if a.id == account_id), None)
        rows = self._read(lambda schema: profile_sql.accounts_statement(schema, account_id))
        return self._account(rows[0]) if rows else None

    def profile_accounts(self) -> list[ProfileAccount]:
        """Every (profile, account) pair: which broker account each trading unit trades through."""
        rows = self._read(lambda schema: profile_sql.pairs_statement(schema))
        return [ProfileAccount(str(p), str(a)) for p, a in rows if p is not None and a is not None]

    def profile(self, profile_id: str) -> Profile | None:
        """The profile, its accounts and whether its new entries are stopped; None when it does not exist."""
        schema, switch = self._ready()
        now = self._clock()
        with self._engine.connect() as conn:
            pairs = schema.profile_accounts()
            found = conn.execute(select(pairs.c.account).where(equals(pairs.c.profile, profile_id)), {"now": now})
            accounts = tuple(sorted(str(a) for a in found.scalars() if a is not None))
            if not accounts and not profile_sql.profile_exists(conn, schema, profile_id):
                return None
            entries = switch.read(conn, profile_id, now)
        return Profile(profile_id, accounts, entries)

    def profiles(self) -> list[Profile]:
        """Every profile the mapping knows, with its accounts and entries state (one read per profile)."""
        pairs = self.profile_accounts()
        accounts: dict[str, list[str]] = defaultdict(list)
        for pair in pairs:
            accounts[pair.profile].append(pair.account)
        schema, switch = self._ready()
        now = self._clock()
        with self._engine.connect() as conn:
            ids = sorted(set(accounts) | set(profile_sql.profile_ids(conn, schema)))
            return [Profile(p, tuple(sorted(accounts.get(p, ()))), switch.read(conn, p, now)) for p in ids]

    def open_quantities(self, account_id: str | None = None) -> dict[str, dict[str, float]]:
        """Signed net open quantity per account and symbol, as the bot records it (one account, or all)."""
        held: dict[str, dict[str, float]] = defaultdict(dict)
        for account, symbol, qty in self._read(lambda schema: position_sql.open_quantities(schema, account_id)):
            label = self._spelling.label(str(symbol))
            held[str(account)][label] = held[str(account)].get(label, 0.0) + float(qty or 0.0)
        return dict(held)

    def bought_since_open(self, symbols: Sequence[str]) -> dict[tuple[str, str], float]:
        """Filled buy quantity of each open position in `symbols` since it opened, per account and symbol (the
        fee a crypto buy pays in the asset is charged on it); empty when the mapping cannot say.

        The buy that opened a position is usually placed before its opened_at, so the buys found are a lower
        bound; so is a long position's quantity plus what it sold since (all sales follow the open): the larger
        of the two is taken, per profile."""
        if not symbols:
            return {}
        schema, _ = self._ready()
        statement = position_sql.bought_since_open(schema, self._spelling.stored(symbols))
        if statement is None:
            return {}
        bought: dict[tuple[str, str], float] = defaultdict(float)
        for account, symbol, buys, sells, held in self._read(lambda _schema: statement):
            since_open = max(float(buys or 0.0), float(held or 0.0) + float(sells or 0.0))
            bought[(str(account), self._spelling.label(str(symbol)))] += since_open
        return dict(bought)

    def account_positions(self, account_id: str) -> dict[str, float]:
        """Signed net open quantity per symbol of one account."""
        return self.open_quantities(account_id).get(account_id, {})

    def last_closes(self, ghosts: Sequence[tuple[str, str]]) -> dict[tuple[str, str], dict[str, datetime | None]]:
        """For each (account, symbol): the profiles that closed a position in it, with their latest close."""
        if not ghosts or self.mapping.positions.profile is None:
            return {}
        closes: dict[tuple[str, str], dict[str, datetime | None]] = defaultdict(dict)
        wanted = [(account, form) for account, symbol in ghosts for form in self._spelling.stored([symbol])]
        for account, symbol, profile, closed_at in self._read(lambda s: position_sql.last_closes_of(s, wanted)):
            seen = closes[(str(account), self._spelling.label(str(symbol)))]
            if str(profile) not in seen or _later(closed_at, seen[str(profile)]):
                seen[str(profile)] = closed_at
        return dict(closes)

    def last_order_events(self, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], datetime]:
        """For each (account, symbol) with orders: the latest event of any of them (a working order's placement,
        an ended order's last update); symbols in any spelling, the bot's own included, answered as `label` gives."""
        if not pairs:
            return {}
        schema, _ = self._ready()
        wanted = list(dict.fromkeys((account, form) for account, symbol in pairs
                                    for form in self._spelling.stored([symbol])))
        statement = order_sql.last_events(schema, wanted)
        if statement is None:
            return {}
        latest: dict[tuple[str, str], datetime] = {}
        for account, symbol, at in self._read(lambda _schema: statement):
            key = (str(account), self._spelling.label(str(symbol)))
            if at is not None and (key not in latest or _later(at, latest[key])):
                latest[key] = at
        return latest

    def profiles_of(self, accounts: Sequence[str]) -> dict[str, set[str]]:
        found: dict[str, set[str]] = defaultdict(set)
        for pair in self.profile_accounts():
            if pair.account in accounts:
                found[pair.account].add(pair.profile)
        return dict(found)

    def stale_orders(self, now: datetime, profile: str | None = None, limit: int = 200) -> list[BotOrder]:
        """Stale orders (oldest clock first), with their account, for one profile or all."""
        rows = self._read(lambda schema: order_sql.stale_listing(schema, now, self._sla, profile, limit), now)
        return [self._order(self._words.row(row, row.stale_since)) for row in rows]

    def quarantined_orders(self, profile: str | None = None, limit: int = 200) -> list[BotOrder]:
        """Quarantined orders, the least recently touched first."""
        rows = self._read(lambda schema: order_sql.quarantined_listing(schema, profile, limit))
        return [self._order(self._words.row(row)) for row in rows]

    def orders_of(self, profile: str, symbols: str | Sequence[str], limit: int) -> list[BotOrder]:
        """The profile's orders in `symbols` (one, or every spelling of an instrument), newest first."""
        wanted = self._spelling.stored([symbols] if isinstance(symbols, str) else list(symbols))
        rows = self._read(lambda schema: order_sql.symbol_listing(schema, profile, wanted, limit))
        return [self._order(self._words.row(row)) for row in rows]

    def positions_of(self, profile: str, symbols: str | Sequence[str], limit: int) -> list[BotPosition]:
        """The profile's position rows in `symbols` (one, or every spelling), the most recently opened first."""
        wanted = self._spelling.stored([symbols] if isinstance(symbols, str) else list(symbols))
        rows = self._read(lambda schema: position_sql.symbol_listing(schema, profile, wanted, limit))
        return [self._position(position_sql.position_row(row)) for row in rows]

    def open_positions(self, limit: int = 10_000) -> list[BotPosition]:
        """Open position rows (one per trade where the bot keeps several), by profile and symbol."""
        rows = self._read(lambda schema: position_sql.open_listing(schema, limit))
        return [self._position(position_sql.position_row(row)) for row in rows]

    def filled_orders(self, since: datetime) -> dict[str, int]:
        """How many orders per symbol were filled (created at or after `since`)."""
        if not self.mapping.orders.statuses.filled:
            return {}
        filled: dict[str, int] = defaultdict(int)
        for symbol, n in self._read(lambda s: order_sql.filled_since(s, since)):
            filled[self._spelling.label(str(symbol))] += int(n)
        return dict(filled)

    def order_statuses(self, order_ids: Sequence[str]) -> dict[str, str]:
        """The current status word of each order that exists."""
        if not order_ids:
            return {}
        rows = self._read(lambda schema: order_sql.statuses_of(schema, order_ids))
        return {str(order_id): str(status) for order_id, status in rows}

    def order_class(self, status: str) -> str | None:
        """working / terminal / quarantined for a status word; None when the mapping does not name it."""
        return self._words.status_class(status)

    def unmapped_values(self, cap: int, unmapped_only: bool = True) -> list[UnmappedValues]:
        """Per enumerated field, the values the mapping does not name (at most `cap` each, the most frequent
        first); with `unmapped_only` False, every value the field holds (for a checker to list)."""
        schema, _ = self._ready()
        with self._engine.connect() as conn:
            return [field.read(conn, cap, {"now": self._clock()}, unmapped_only) for field in fields(schema)]

    def statements(self, now: datetime) -> dict[str, Any]:
        """The read statements a scrape runs, by name, for EXPLAIN."""
        schema, _ = self._ready()
        found: dict[str, Any] = {
            "stale_backlog": order_sql.backlog_statement(schema, now, self._sla),
            "profile_accounts": profile_sql.pairs_statement(schema),
            "open_positions": position_sql.open_quantities(schema),
        }
        if self.mapping.accounts.table:
            found["accounts"] = profile_sql.accounts_statement(schema)
        found.update({f"unmapped {field.name}": field.statement(20) for field in fields(schema)})
        return found

    def diagnostics(self) -> Diagnostics:
        """Read-only checks of the mapping against the data (links, plans, ids), for a readiness check."""
        schema, _ = self._ready()
        return Diagnostics(self._engine, schema, self._words, self._clock)

    # --- writes ------------------------------------------------------------------------------------------

    def stop_entries(self, profile: str, now: datetime) -> EntriesChange:
        with self._writes() as writes:
            return writes.stop_entries(profile, now)

    def resume_entries(self, profile: str, now: datetime) -> EntriesChange:
        with self._writes() as writes:
            return writes.resume_entries(profile, now)

    def quarantine_order(self, order_id: str, seen_status: str, now: datetime) -> QuarantineResult:
        with self._writes() as writes:
            return writes.quarantine_order(order_id, seen_status, now)

    @contextmanager
    def rehearsal(self) -> Iterator[Writes]:
        """The writes inside one transaction that is rolled back (a control API call is still made)."""
        schema, switch = self._ready()
        with self._engine.connect() as conn:
            transaction = conn.begin()
            try:
                yield Writes(schema, switch, conn)
            finally:
                transaction.rollback()

    # --- internals ---------------------------------------------------------------------------------------

    @contextmanager
    def _writes(self) -> Iterator[Writes]:
        schema, switch = self._ready()
        with write_transaction(self._engine) as conn:
            yield Writes(schema, switch, conn)

    def _ready(self) -> tuple[Schema, Switch]:
        return self._compiled.ready()

    def _read(self, build: Callable[[Schema], Executable], now: datetime | None = None) -> list[Any]:
        schema, _ = self._ready()
        with self._engine.connect() as conn:
            return list(conn.execute(build(schema), {"now": now or self._clock()}).all())

    def _order(self, order: BotOrder) -> BotOrder:
        label = self._spelling.label(order.symbol)
        return order if label == order.symbol else replace(order, symbol=label)

    def _position(self, position: BotPosition) -> BotPosition:
        label = self._spelling.label(position.symbol)
        return position if label == position.symbol else replace(position, symbol=label)

    def _account(self, row: Any) -> Account:
        account = str(row[0])
        return Account(account, self.mapping.accounts.key_ids.get(account) or text_or_none(row[1]))
