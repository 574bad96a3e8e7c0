"""Stale backlog: working orders past their SLA, and quarantined orders, per profile.

One SQL statement per scrape, whatever the number of profiles::

    tradingbot_stale_orders{profile="p-2"} 5.0
    tradingbot_stale_order_oldest_age_seconds{profile="p-2"} 912.4
    tradingbot_quarantined_orders{profile="p-2"} 0.0
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import Engine, Select, and_, case, func, or_, select, type_coerce

from sources.botdb import QUARANTINED_STATUS, WORKING_STATUSES, UTCDateTime, orders, profiles


def stale_backlog_query(cutoff: datetime) -> Select[str, int, datetime | None, int]:
    """Per profile: stale working orders, the oldest one's last update, quarantined orders."""
    stale = and_(orders.c.status.in_(WORKING_STATUSES), orders.c.updated_at < cutoff)
    quarantined = orders.c.status == QUARANTINED_STATUS
    joined = profiles.outerjoin(orders, and_(orders.c.profile_id == profiles.c.id, or_(stale, quarantined)))
    return (
        select(
            profiles.c.id,
            func.coalesce(func.sum(case((stale, 1), else_=0)), 0),
            type_coerce(func.min(case((stale, orders.c.updated_at), else_=None)), UTCDateTime()),
            func.coalesce(func.sum(case((quarantined, 1), else_=0)), 0),
        )
        .select_from(joined)
        .group_by(profiles.c.id)
    )


class StaleBacklogCollector:
    name = "stale_backlog"

    def __init__(self, engine: Engine, stale_after: timedelta, clock: Callable[[], datetime]) -> None:
        self._engine = engine
        self._stale_after = stale_after
        self._clock = clock

    def collect(self) -> list[Metric]:
        now = self._clock()
        stale = GaugeMetricFamily(
            "tradingbot_stale_orders",
            "Orders in a working status whose last update is older than the SLA",
            labels=["profile"],
        )
        oldest = GaugeMetricFamily(
            "tradingbot_stale_order_oldest_age_seconds", "Age of the oldest stale order", labels=["profile"]
        )
        quarantined = GaugeMetricFamily(
            "tradingbot_quarantined_orders", "Orders in status unknown awaiting manual review", labels=["profile"]
        )
        with self._engine.connect() as conn:
            rows = conn.execute(stale_backlog_query(now - self._stale_after)).all()
        for profile, stale_count, oldest_update, quarantined_count in rows:
            stale.add_metric([profile], float(stale_count))
            age = (now - oldest_update).total_seconds() if oldest_update is not None else 0.0
            oldest.add_metric([profile], max(age, 0.0))
            quarantined.add_metric([profile], float(quarantined_count))
        return [stale, oldest, quarantined]
