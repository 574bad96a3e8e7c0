"""The bot's tables in another shape: what the simulated bot knows, written the way that bot would store it.

The simulated bot keeps its working state in today's schema (`sources/botdb.py`) in a private database of
its own (a bot's memory); a `ShapeMirror` writes that state into the bot database in the shape's tables,
as the bot of that shape would:

- `publish` inserts new rows and updates changed ones, only where something changed: a column named
  `Part.touch` (an ``updated_at`` with an on-update default) moves when its row changes, never otherwise;
- columns that others own after the insert (`Part.insert_only`: the trading unit's enablement, which the
  responder and the operators write) are never overwritten, and neither is a row holding one of
  `Part.guard`'s words (an order the responder quarantined);
- `pull` reads what others wrote back into the bot's working state (enablement, quarantine), so it trades
  and syncs as a bot of that shape would.

Nothing downstream of the bot sees this module: the exporters and the responder read and write the shape's
tables through the gateway and the shape's mapping (`config/shapes/<name>.yml`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, MetaData, Table, insert, select, update

from common.db import write_transaction
from sources.botdb import (
    PROFILE_ACTIVE,
    PROFILE_INACTIVE,
    QUARANTINED_STATUS,
    broker_accounts,
    orders,
    profiles,
)
from sources.botdb import positions as position_rows

Row = dict[str, Any]
CHUNK = 500


@dataclass(frozen=True)
class Part:
    """One table of the shape, keyed by one column."""

    table: Table
    key: str
    insert_only: tuple[str, ...] = ()
    touch: str | None = None
    guard: tuple[str, tuple[Any, ...]] | None = None  # (column, words): a row holding one is someone else's now

    def compared(self, row: Row) -> Row:
        return {k: v for k, v in row.items() if k != self.touch and k not in self.insert_only}


@dataclass(frozen=True)
class Snapshot:
    """The simulated bot's working state, read in one go."""

    accounts: list[Any]
    profiles: list[Any]
    orders: list[Any]
    positions: list[Any]

    def profile_accounts(self) -> dict[str, str]:
        return {str(p.id): str(p.account_id) for p in self.profiles}

    def active(self) -> dict[str, bool]:
        return {str(p.id): p.status == PROFILE_ACTIVE for p in self.profiles}


@dataclass(frozen=True)
class Others:
    """What others wrote in the shape's tables: enablement per profile, and the orders they quarantined."""

    enabled: dict[str, bool]
    quarantined: list[str]


@dataclass(frozen=True)
class BotShape:
    name: str
    metadata: MetaData
    parts: tuple[Part, ...]
    rows: Callable[[Snapshot], Iterator[tuple[str, Row]]]  # (table name, row) in insert order
    others: Callable[[Connection], Others]

    def part(self, table: str) -> Part:
        return next(part for part in self.parts if part.table.name == table)


def read_snapshot(conn: Connection) -> Snapshot:
    return Snapshot(
        accounts=list(conn.execute(select(broker_accounts).order_by(broker_accounts.c.id))),
        profiles=list(conn.execute(select(profiles).order_by(profiles.c.id))),
        orders=list(conn.execute(select(orders).order_by(orders.c.created_at, orders.c.id))),
        positions=list(conn.execute(select(position_rows).order_by(position_rows.c.id))),
    )


@dataclass
class ShapeMirror:
    """Writes the simulated bot's state into the shape's tables of the bot database (see the module doc)."""

    shape: BotShape
    state: Engine  # the bot's working state (today's schema, private)
    bot: Engine  # the bot database, in the shape's tables
    _published: dict[tuple[str, Any], Row] = field(default_factory=dict)

    def rebuild(self, now: datetime) -> dict[str, int]:
        """Drop and recreate the shape's tables, then write every row; return the rows per table."""
        self.shape.metadata.drop_all(self.bot)
        self.shape.metadata.create_all(self.bot)
        self._published.clear()
        return self.publish(now)

    def publish(self, now: datetime) -> dict[str, int]:
        """Insert new rows and update changed ones; return how many rows each table got or changed."""
        with self.state.connect() as conn:
            snapshot = read_snapshot(conn)
        inserts: dict[str, list[Row]] = {}
        updates: list[tuple[Part, Row, Row]] = []
        for table, row in self.shape.rows(snapshot):
            part = self.shape.part(table)
            known = self._published.get((table, row[part.key]))
            if known is None:
                inserts.setdefault(table, []).append(row)
            elif part.compared(row) != known:
                updates.append((part, row, known))
        counts: dict[str, int] = {}
        with write_transaction(self.bot) as conn:
            for part in self.shape.parts:  # parents first
                rows = inserts.get(part.table.name, [])
                for start in range(0, len(rows), CHUNK):
                    conn.execute(insert(part.table), rows[start:start + CHUNK])
                if rows:
                    counts[part.table.name] = len(rows)
            for part, row, known in updates:
                if self._update(conn, part, row, known, now):
                    counts[part.table.name] = counts.get(part.table.name, 0) + 1
        for table, rows in inserts.items():
            part = self.shape.part(table)
            self._published.update({(table, row[part.key]): part.compared(row) for row in rows})
        for part, row, _known in updates:
            self._published[(part.table.name, row[part.key])] = part.compared(row)
        return counts

    @staticmethod
    def _update(conn: Connection, part: Part, row: Row, known: Row, now: datetime) -> bool:
        values = {k: v for k, v in part.compared(row).items() if known.get(k) != v}
        if part.touch is not None:
            values[part.touch] = now
        statement = update(part.table).where(part.table.c[part.key] == row[part.key])
        if part.guard is not None:
            column, words = part.guard
            statement = statement.where(part.table.c[column].not_in(words))
        return bool(conn.execute(statement.values(**values)).rowcount)

    def pull(self, now: datetime) -> int:
        """Bring what others wrote (enablement, quarantine) into the bot's working state; return the changes."""
        with self.bot.connect() as conn:
            found = self.shape.others(conn)
        changed = 0
        with write_transaction(self.state) as conn:
            current = {str(row.id): row.status for row in conn.execute(select(profiles.c.id, profiles.c.status))}
            for profile, enabled in found.enabled.items():
                status = PROFILE_ACTIVE if enabled else PROFILE_INACTIVE
                if profile in current and current[profile] != status:
                    conn.execute(update(profiles).where(profiles.c.id == profile).values(status=status, updated_at=now))
                    changed += 1
            for start in range(0, len(found.quarantined), CHUNK):
                changed += conn.execute(
                    update(orders).where(orders.c.id.in_(found.quarantined[start:start + CHUNK]),
                                         orders.c.status != QUARANTINED_STATUS)
                    .values(status=QUARANTINED_STATUS, updated_at=now)
                ).rowcount
        return changed
