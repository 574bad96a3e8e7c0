"""The mapping as the bot's data fills it, in two collectors that fail apart.

`profile_accounts`: which broker account each profile trades through, read at every scrape (one small
statement); rules join per-profile series to per-account ones through it::

    tradingbot_profile_account{account="acct-1",profile="p-1"} 1.0

`unmapped_values`: values of enumerated columns that the mapping does not name (an order status, an
enabled-state value, a position status or side). They are looked for at most every
``bot_db.unmapped_check_interval_seconds`` (one GROUP BY per field, over the whole table) and repeated from
the last look in between; at most ``bot_db.unmapped_values_cap`` values per field are exported, the most
frequent first, and ``..._truncated`` says when more exist::

    tradingbot_unmapped_value_rows{field="orders.status",value="Submitted"} 12.0
    tradingbot_unmapped_values_truncated{field="orders.status"} 0.0

An unmapped value counts for no class (a status the mapping does not name is neither working nor
terminal): it is loud here and in the `UnmappedBotValues` alert instead.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from prometheus_client.core import GaugeMetricFamily, Metric

from sources.botdata import BotData, UnmappedValues


class ProfileAccountCollector:
    name = "profile_accounts"

    def __init__(self, bot: BotData) -> None:
        self._bot = bot

    def collect(self) -> list[Metric]:
        accounts = GaugeMetricFamily(
            "tradingbot_profile_account",
            "1 for each broker account a profile trades through, as the bot's database maps it",
            labels=["profile", "account"],
        )
        for pair in self._bot.profile_accounts():
            accounts.add_metric([pair.profile, pair.account], 1.0)
        return [accounts]


class UnmappedValuesCollector:
    name = "unmapped_values"

    def __init__(
        self, bot: BotData, interval_seconds: float, cap: int, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._bot = bot
        self._interval = interval_seconds
        self._cap = cap
        self._monotonic = monotonic
        self._last: tuple[float, list[UnmappedValues]] | None = None
        self._lock = threading.Lock()

    def collect(self) -> list[Metric]:
        rows = GaugeMetricFamily(
            "tradingbot_unmapped_value_rows",
            "Rows of the bot's database carrying a value the mapping does not name, per field and value",
            labels=["field", "value"],
        )
        truncated = GaugeMetricFamily(
            "tradingbot_unmapped_values_truncated",
            "1 when a field has more unmapped values than are exported",
            labels=["field"],
        )
        for found in self._unmapped():
            for value, count in found.counts.items():
                rows.add_metric([found.field, value], float(count))
            truncated.add_metric([found.field], 1.0 if found.truncated else 0.0)
        return [rows, truncated]

    def _unmapped(self) -> list[UnmappedValues]:
        """The last look for unmapped values, looking again once it is `interval` old."""
        with self._lock:
            now = self._monotonic()
            if self._last is None or now - self._last[0] >= self._interval:
                self._last = (now, self._bot.unmapped_values(self._cap))
            return self._last[1]
