from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry
from sqlalchemy import Engine, event

from exporters.collector import ExporterCollector
from exporters.stale_backlog import StaleBacklogCollector
from sources.botdata import BotData
from sources.mapping import default_mapping
from tests.support.botstate import add_account, add_order, add_profile

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
SLA = timedelta(minutes=5)


def registry_for(engine: Engine) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    bot = BotData(engine, default_mapping(), SLA.total_seconds(), lambda: NOW)
    registry.register(ExporterCollector([StaleBacklogCollector(bot, lambda: NOW)]))
    return registry


@contextmanager
def counted_statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.lstrip().upper().startswith("BEGIN"):  # SQLite's explicit BEGIN is not a query
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_counts_only_working_orders_past_the_sla(bot_engine: Engine) -> None:
    add_account(bot_engine, "acct-1")
    for profile in ("p-1", "p-2"):
        add_profile(bot_engine, profile, "acct-1", NOW)
    old = NOW - timedelta(minutes=20)
    add_order(bot_engine, "p-1", "pending_new", old)
    add_order(bot_engine, "p-1", "pending_cancel", NOW - timedelta(minutes=6))
    add_order(bot_engine, "p-1", "new", NOW - timedelta(minutes=4))  # inside the SLA
    add_order(bot_engine, "p-1", "filled", old)  # terminal
    add_order(bot_engine, "p-1", "done_for_day", old)  # day boundary, not stuck
    add_order(bot_engine, "p-1", "unknown", old)  # quarantined
    add_order(bot_engine, "p-1", "unknown", NOW)

    registry = registry_for(bot_engine)

    assert registry.get_sample_value("tradingbot_stale_orders", {"profile": "p-1"}) == 2
    assert registry.get_sample_value("tradingbot_stale_order_oldest_age_seconds", {"profile": "p-1"}) == 1200
    assert registry.get_sample_value("tradingbot_quarantined_orders", {"profile": "p-1"}) == 2
    assert registry.get_sample_value("tradingbot_stale_orders", {"profile": "p-2"}) == 0
    assert registry.get_sample_value("tradingbot_stale_order_oldest_age_seconds", {"profile": "p-2"}) == 0
    assert registry.get_sample_value("tradingbot_collector_up", {"collector": "stale_backlog"}) == 1


def test_query_count_does_not_grow_with_profiles(bot_engine: Engine) -> None:
    add_account(bot_engine, "acct-1")
    registry = registry_for(bot_engine)
    registry.get_sample_value("tradingbot_stale_orders", {"profile": "p-0"})  # the mapping meets the database
    counts = []
    for batch in (range(0, 3), range(3, 60)):
        for n in batch:
            add_profile(bot_engine, f"p-{n}", "acct-1", NOW)
            add_order(bot_engine, f"p-{n}", "pending_new", NOW - timedelta(hours=1))
        with counted_statements(bot_engine) as statements:
            registry.get_sample_value("tradingbot_stale_orders", {"profile": "p-0"})
        counts.append(len(statements))
    assert registry.get_sample_value("tradingbot_stale_orders", {"profile": "p-59"}) == 1
    assert counts[0] == counts[1] == 1


def test_unreadable_database_reports_the_collector_down(tmp_path: Any) -> None:
    from common.db import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'empty.sqlite3'}")  # no bot tables
    registry = registry_for(engine)
    assert registry.get_sample_value("tradingbot_collector_up", {"collector": "stale_backlog"}) == 0
    assert registry.get_sample_value("tradingbot_stale_orders", {"profile": "p-1"}) is None
