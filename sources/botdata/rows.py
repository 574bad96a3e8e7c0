"""What the gateway returns: typed rows in the runbook's words, whatever the bot's own tables look like.
Ids are strings (as in alert labels); timestamps are aware UTC; quantities are signed floats."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

EntriesStateName = Literal["enabled", "stopped", "unknown"]
OrderClass = Literal["working", "terminal", "quarantined"]
QuarantineResult = Literal["quarantined", "already", "moved_on"]


@dataclass(frozen=True)
class Account:
    id: str
    key_id: str | None  # the broker API key id; None when the mapping gives none for this account


@dataclass(frozen=True)
class ProfileAccount:
    profile: str
    account: str


@dataclass(frozen=True)
class ProfileBacklog:
    profile: str
    stale: int
    oldest: datetime | None  # the oldest stale order's clock (the column its stale rule measures from)
    quarantined: int


@dataclass(frozen=True)
class Entries:
    """Whether new entries of a profile are allowed, as read back from where the mapping keeps it."""

    state: EntriesStateName
    value: str | None = None  # the raw value read (a status word, "locked", an API field), for evidence
    detail: str = ""  # why the state is unknown


@dataclass(frozen=True)
class Profile:
    id: str
    accounts: tuple[str, ...]
    entries: Entries


@dataclass(frozen=True)
class EntriesChange:
    changed: bool  # this write changed something
    entries: Entries  # read back after the write


@dataclass(frozen=True)
class BotOrder:
    id: str
    profile: str | None
    account: str | None
    symbol: str
    side: Literal["buy", "sell"] | None  # None: no side column, or a word the mapping does not name
    qty: float | None
    status: str  # the bot's own word
    status_class: OrderClass | None  # None: a word the mapping does not name
    rejected: bool
    created_at: datetime | None
    updated_at: datetime | None = None
    client_order_id: str | None = None
    broker_order_id: str | None = None
    order_type: str | None = None
    time_in_force: str | None = None
    stale_since: datetime | None = None  # the clock its stale rule measures from (stale listings only)


@dataclass(frozen=True)
class BotPosition:
    id: str
    profile: str | None
    account: str | None
    symbol: str
    qty: float  # signed: negative = short
    open: bool
    status: str | None = None  # the bot's own word, when positions have a status column
    opened_at: datetime | None = None
    closed_at: datetime | None = None


@dataclass(frozen=True)
class UnmappedValues:
    """Values of a mapped column that the mapping does not name (at most `cap`, most frequent first)."""

    field: str  # e.g. orders.status
    counts: dict[str, int] = dataclasses.field(default_factory=dict)  # value -> rows carrying it
    truncated: bool = False  # more distinct values exist than were returned
