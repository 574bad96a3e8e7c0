"""Stale backlog: working orders past their SLA, and quarantined orders, per profile.

Which orders are working, which clock their age is measured from and their SLA are the mapping's stale
rules (``bot_db.mapping.orders.stale``; by default a working status not updated for
``bot_db.stale_after_seconds``). One SQL statement per scrape, whatever the number of profiles::

    tradingbot_stale_orders{profile="p-2"} 5.0
    tradingbot_stale_order_oldest_age_seconds{profile="p-2"} 912.4
    tradingbot_quarantined_orders{profile="p-2"} 0.0
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from prometheus_client.core import GaugeMetricFamily, Metric

from sources.botdata import BotData


class StaleBacklogCollector:
    name = "stale_backlog"

    def __init__(self, bot: BotData, clock: Callable[[], datetime]) -> None:
        self._bot = bot
        self._clock = clock

    def collect(self) -> list[Metric]:
        now = self._clock()
        stale = GaugeMetricFamily(
            "tradingbot_stale_orders",
            "Orders in a working status older than their SLA, measured from the clock their stale rule names",
            labels=["profile"],
        )
        oldest = GaugeMetricFamily(
            "tradingbot_stale_order_oldest_age_seconds", "Age of the oldest stale order", labels=["profile"]
        )
        quarantined = GaugeMetricFamily(
            "tradingbot_quarantined_orders", "Quarantined orders awaiting manual review", labels=["profile"]
        )
        for row in self._bot.stale_backlog(now):
            stale.add_metric([row.profile], float(row.stale))
            age = (now - row.oldest).total_seconds() if row.oldest is not None else 0.0
            oldest.add_metric([row.profile], max(age, 0.0))
            quarantined.add_metric([row.profile], float(row.quarantined))
        return [stale, oldest, quarantined]
