"""The words real bots use, by what they mean to the runbook: order statuses (Alpaca's, normalised ones,
ccxt's), enabled states, position states and sides. A value none of these knows is left out of the
suggested mapping (and named in its header), so doctor reports it as unmapped until someone decides."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

ORDER_WORKING = frozenset({
    "new", "partially_filled", "accepted", "pending_new", "accepted_for_bidding", "pending_cancel",
    "pending_replace", "stopped", "suspended", "held", "pending_review", "done_for_day", "calculated",
    "submitted", "open", "pending", "working", "placed", "live",
})
ORDER_RESTING = frozenset({"new", "accepted", "submitted", "open", "partially_filled", "working", "placed", "live"})
ORDER_DAY_BOUNDARY = frozenset({"done_for_day", "calculated"})
ORDER_TERMINAL = frozenset({"filled", "canceled", "cancelled", "expired", "rejected", "replaced", "closed", "done",
                            "failed", "completed"})
ORDER_QUARANTINED = frozenset({"unknown", "quarantined"})
ALPACA_WORKING = ("new", "partially_filled", "accepted", "pending_new", "accepted_for_bidding", "pending_cancel",
                  "pending_replace", "stopped", "suspended", "held", "pending_review", "done_for_day", "calculated")
ALPACA_TERMINAL = ("filled", "canceled", "expired", "rejected", "replaced")

ENABLED = frozenset({"active", "enabled", "live", "live_eligible", "paper", "running", "trading", "on"})
STOPPED = frozenset({"inactive", "disabled", "paused", "stopped", "retired", "off", "halted", "development",
                     "backtesting", "archived", "suspended"})
STOP_FIRST = ("paused", "inactive", "disabled", "stopped", "off")
RESUME_FIRST = ("active", "live_eligible", "enabled", "live", "running", "on")
OPPOSITE = {"active": "inactive", "enabled": "disabled", "on": "off", "running": "stopped"}

POSITION_OPEN = frozenset({"open", "flattening", "opening", "active", "partially_closed"})
POSITION_CLOSED = frozenset({"closed", "liquidated", "settled"})
BUY = frozenset({"buy"})
SELL = frozenset({"sell"})
LONG = frozenset({"long", "buy"})
SHORT = frozenset({"short", "sell"})
LIMIT_TYPES = ("limit", "stop_limit")


def texts(values: Iterable[Any]) -> list[str]:
    return [str(value) for value in values if value is not None]


def of(values: Sequence[str], known: frozenset[str]) -> list[str]:
    """The values that are words of `known` (compared in lower case), in their own spelling."""
    return [value for value in values if value.lower() in known]


def unknown(values: Sequence[str], *known: frozenset[str]) -> list[str]:
    return [value for value in values if not any(value.lower() in words for words in known)]


def first_of(preferred: Sequence[str], values: Sequence[str]) -> str | None:
    lowered = {value.lower(): value for value in values}
    return next((lowered[word] for word in preferred if word in lowered), None)


def spelled_like(values: Sequence[str], word: str) -> str:
    """`word` in the case the values use (upper-case statuses get an upper-case word)."""
    return word.upper() if values and all(value == value.upper() for value in values) else word


def distinct_folded(values: Sequence[str]) -> list[str]:
    """One spelling per word compared in lower case (the first, i.e. the most frequent)."""
    seen: dict[str, str] = {}
    for value in values:
        seen.setdefault(value.lower(), value)
    return list(seen.values())
