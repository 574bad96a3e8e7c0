"""Settling: a ghost-looking instrument with an order in flight is not a ghost yet, for a short bound.

The broker shows a fill seconds before the bot records it (the partial-fill race of the runbook's
scenario 4; nautilus_trader waits 5 s for it): for those seconds the broker holds what the bot records as
closed, exactly what a ghost looks like. The facts that tell them apart are the orders. An instrument the
comparison calls a ghost is **settling** while some order in it had an event within ``bound_seconds``:

- at the broker: the newest orders in the account's ghost-looking instruments (``GET /v2/orders?status=all``,
  working and closed), each order's last event being its ``updated_at`` (a fill, a cancel, an acceptance),
  aged by the broker's own clock (its ``Date`` header), so a skewed local clock changes nothing;
- in the bot: the latest event of its order rows in the instrument (any spelling), aged by the exporter's
  clock: a working order's placement (``created_at``; its ``updated_at`` may be the sync's heartbeat, which
  would keep it settling for ever), an ended order's last update (the fill, the cancel).

The bound runs from the order's *last event*, so an order resting unfilled at the broker while the bot
says closed (an exit that never executes) settles for ``bound_seconds`` after it was accepted and is a
ghost after that: exposure is never hidden for longer than the bound. An event further in the future than
the bound (a clock far off) is no evidence. A failed order read is no evidence either: the bot's orders
still count, and without them the mismatch is a ghost (a read failure never hides exposure).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sources.botdata import BotData
from sources.broker import BrokerClient, BrokerOrder
from sources.instruments import Instrument, instrument

Candidate = tuple[str, Instrument]  # account id, instrument


@dataclass(frozen=True)
class SettleWindow:
    bound_seconds: float = 5.0
    orders_limit: int = 50

    def settling(self, age_seconds: float | None) -> bool:
        """Whether an order event `age_seconds` old (negative: ahead of the clock) keeps a mismatch settling."""
        return age_seconds is not None and abs(age_seconds) < self.bound_seconds

    @property
    def enabled(self) -> bool:
        return self.bound_seconds > 0


def latest_events(orders: Iterable[BrokerOrder], wanted: Collection[Instrument]) -> dict[Instrument, datetime]:
    """The latest event (``updated_at``, else ``created_at``) of the orders per wanted instrument."""
    latest: dict[Instrument, datetime] = {}
    for order in orders:
        found, at = instrument(order.symbol), order.updated_at or order.created_at
        if at is not None and found in wanted:
            latest[found] = max(at, latest.get(found, at))
    return latest


def broker_order_ages(
    client: BrokerClient, wanted: Collection[Instrument], limit: int, clock: Callable[[], datetime]
) -> dict[Instrument, float]:
    """Seconds since the last order event at the broker per wanted instrument, by the broker's clock (`clock`
    when the answer has no Date; one read of the newest `limit` orders in them, working and closed);
    BrokerError when the read gives no answer."""
    symbols = ",".join(sorted(found.symbol for found in wanted))
    orders = client.list_orders(status="all", limit=limit, symbols=symbols)
    server = client.last_server_time
    now = clock() if server is None else server.replace(tzinfo=server.tzinfo or UTC)
    return {found: (now - at).total_seconds() for found, at in latest_events(orders, wanted).items()}


def bot_order_ages(bot: BotData, candidates: Collection[Candidate], now: datetime) -> dict[Candidate, float]:
    """Seconds since the bot's latest order event per (account, instrument), over every spelling (one read)."""
    spelled = sorted({(account, spelling) for account, found in candidates for spelling in found.spellings})
    latest: dict[Candidate, datetime] = {}
    for (account, symbol), at in bot.last_order_events(spelled).items():
        key = (account, instrument(symbol))
        latest[key] = max(at, latest.get(key, at))
    return {key: (now - at).total_seconds() for key, at in latest.items()}


def split_settling(
    candidates: list[Candidate],
    broker_ages: dict[Candidate, float],
    bot_ages: dict[Candidate, float],
    window: SettleWindow,
) -> tuple[list[Candidate], list[Candidate]]:
    """(ghosts, settling): a candidate settles while the broker or the bot saw an order event within the bound."""
    ghosts: list[Candidate] = []
    settling: list[Candidate] = []
    for candidate in candidates:
        recent = window.settling(broker_ages.get(candidate)) or window.settling(bot_ages.get(candidate))
        (settling if recent else ghosts).append(candidate)
    return ghosts, settling
