"""The profile_accounts and unmapped_values collectors: which account each profile trades through, and
values the mapping does not name, exported with bounded cardinality and looked for once per interval
(SQLite and PostgreSQL)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path

from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from common.db import make_engine
from exporters.bot_mapping import ProfileAccountCollector, UnmappedValuesCollector
from exporters.collector import ExporterCollector
from exporters.stale_backlog import StaleBacklogCollector
from sources.botdata import BotData
from sources.mapping import BotMapping, default_mapping_data
from tests.support.botstate import add_account, add_order, add_profile

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
OLD = NOW - timedelta(hours=1)


class Ticks:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def without(*statuses: str) -> BotMapping:
    """The default mapping, forgetting some working statuses (as a mapping written for another bot would)."""
    data = copy.deepcopy(default_mapping_data())
    working = data["orders"]["statuses"]["working"]
    data["orders"]["statuses"]["working"] = [status for status in working if status not in statuses]
    return BotMapping.model_validate(data)


def registry(bot: BotData, ticks: Ticks, cap: int = 2) -> CollectorRegistry:
    made = CollectorRegistry(auto_describe=False)
    sources = [
        StaleBacklogCollector(bot, lambda: NOW),
        ProfileAccountCollector(bot),
        UnmappedValuesCollector(bot, 60.0, cap, ticks),
    ]
    made.register(ExporterCollector(sources))
    return made


def test_each_profile_names_its_account(bot_engine: Engine) -> None:
    add_account(bot_engine, "acct-1")
    add_account(bot_engine, "acct-2")
    add_profile(bot_engine, "p-1", "acct-1", NOW)
    add_profile(bot_engine, "p-2", "acct-2", NOW)
    found = registry(BotData(bot_engine, without(), 300, lambda: NOW), Ticks())
    assert found.get_sample_value("tradingbot_profile_account", {"profile": "p-1", "account": "acct-1"}) == 1
    assert found.get_sample_value("tradingbot_profile_account", {"profile": "p-2", "account": "acct-2"}) == 1
    assert found.get_sample_value("tradingbot_profile_account", {"profile": "p-1", "account": "acct-2"}) is None
    assert found.get_sample_value("tradingbot_collector_up", {"collector": "profile_accounts"}) == 1


def test_unmapped_statuses_are_loud_capped_and_never_stale(bot_engine: Engine) -> None:
    add_account(bot_engine, "acct-1")
    add_profile(bot_engine, "p-1", "acct-1", NOW)
    for status, count in (("held", 3), ("stopped", 2), ("suspended", 1), ("pending_new", 1)):
        for _ in range(count):
            add_order(bot_engine, "p-1", status, OLD)
    ticks = Ticks()
    found = registry(BotData(bot_engine, without("held", "stopped", "suspended"), 300, lambda: NOW), ticks)

    def rows(value: str) -> float | None:
        return found.get_sample_value("tradingbot_unmapped_value_rows", {"field": "orders.status", "value": value})

    assert (rows("held"), rows("stopped"), rows("suspended")) == (3, 2, None)  # the 2 most frequent
    assert found.get_sample_value("tradingbot_unmapped_values_truncated", {"field": "orders.status"}) == 1
    assert found.get_sample_value("tradingbot_unmapped_values_truncated", {"field": "profiles.entries"}) == 0
    assert found.get_sample_value("tradingbot_stale_orders", {"profile": "p-1"}) == 1  # only pending_new

    add_order(bot_engine, "p-1", "held", OLD)
    ticks.now += 59
    assert rows("held") == 3  # the last look holds until the interval has passed
    ticks.now += 1
    assert rows("held") == 4


def test_a_failing_look_for_unmapped_values_loses_only_its_own_metrics(bot_engine: Engine, tmp_path: Path) -> None:
    add_account(bot_engine, "acct-1")
    add_profile(bot_engine, "p-1", "acct-1", NOW)
    empty = make_engine(f"sqlite:///{tmp_path / 'empty.sqlite3'}")  # no bot tables: every look fails
    broken = BotData(empty, without(), 300, lambda: NOW)
    found = CollectorRegistry(auto_describe=False)
    bot = BotData(bot_engine, without(), 300, lambda: NOW)
    found.register(ExporterCollector([ProfileAccountCollector(bot), UnmappedValuesCollector(broken, 60.0, 2)]))
    try:
        assert found.get_sample_value("tradingbot_collector_up", {"collector": "unmapped_values"}) == 0
        assert found.get_sample_value("tradingbot_collector_up", {"collector": "profile_accounts"}) == 1
        assert found.get_sample_value("tradingbot_profile_account", {"profile": "p-1", "account": "acct-1"}) == 1
    finally:
        broken.dispose()
