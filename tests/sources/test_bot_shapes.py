"""The gateway reads and writes bots of other shapes with a mapping and nothing else, on SQLite and
PostgreSQL (tests/sources/shapes.py has the schemas and their mappings)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from common.db import make_engine
from sources.botdata import BotData
from sources.mapping import BotMapping
from tests.sources.shapes import NOW, SHAPES, Shape, boolean_bot, pairlocks, strategies, strategy_bot, trade_bot

EXPECTED: dict[str, dict[str, Any]] = {
    "strategy_bot": {
        # orders 2 (submitted, market, 10 min) and 3 (new, 5 min > 120 s); 1 is a resting limit order
        "backlog": {"10": (2, NOW - timedelta(minutes=10), 1), "11": (1, NOW - timedelta(hours=2), 0),
                    "12": (0, None, 0)},
        "stale_ids": ["15", "2", "3"],
        "unmapped": {"orders.status": {"Submitted": 1}},
        "accounts": [("1", "AKSTRAT1"), ("2", "AKSTRAT2")],
        "pairs": [("10", "1"), ("11", "2"), ("12", "1")],
        "open": {"1": {"AAPL": 10.0, "TSLA": -4.0, "MSFT": 1.0}},
        "ghost": (("1", "NVDA"), {"10": NOW - timedelta(days=1), "12": NOW - timedelta(days=2)}),
        "profile": ("10", ("1",), "enabled", "live_eligible"),
        "stopped": "paused",
        "quarantine": ("2", "submitted"),
    },
    "boolean_bot": {
        "backlog": {"prof-1": (1, NOW - timedelta(minutes=15), 1), "prof-2": (1, NOW - timedelta(hours=1), 0)},
        "stale_ids": ["o5", "o1"],
        "unmapped": {"orders.status": {"SUSPENDED": 1}},
        "accounts": [("acc-a", "AKBOOL1")],
        "pairs": [("prof-1", "acc-a"), ("prof-2", "acc-a")],
        "open": {"acc-a": {"SPY": -5.0, "QQQ": 3.0}},
        "ghost": (("acc-a", "IWM"), {"prof-2": NOW - timedelta(days=1)}),
        "profile": ("prof-1", ("acc-a",), "enabled", "true"),
        "stopped": "false",
        "quarantine": ("o1", "PENDING_NEW"),
    },
    "trade_bot": {
        "backlog": {"freqtrade": (1, NOW - timedelta(minutes=20), 1)},
        "stale_ids": ["2"],
        "unmapped": {},
        "accounts": [("binance-main", "AKTRADE1")],
        "pairs": [("freqtrade", "binance-main")],
        "open": {"binance-main": {"BTC/USDT": 0.75, "ETH/USDT:USDT": -2.0}},
        "ghost": (("binance-main", "SOL/USDT"), {"freqtrade": NOW - timedelta(hours=2)}),
        "profile": ("freqtrade", ("binance-main",), "enabled", "no active lock"),
        "stopped": "1 active lock(s)",
        "quarantine": ("2", "open"),
    },
}


@pytest.fixture(params=SHAPES, ids=[shape.name for shape in SHAPES])
def shape(request: pytest.FixtureRequest) -> Shape:
    found: Shape = request.param
    return found


@contextmanager
def gateway_on(shape: Shape, db_url: str) -> Iterator[BotData]:
    """The shape's schema and rows in the database at `db_url`, and the gateway its mapping configures."""
    engine = make_engine(db_url)
    shape.create(engine)
    gateway = BotData(engine, BotMapping.model_validate(shape.mapping), 300, lambda: NOW)
    try:
        gateway.check()
        yield gateway
    finally:
        gateway.dispose()


@pytest.fixture
def bot(shape: Shape, db_url: str) -> Iterator[BotData]:
    with gateway_on(shape, db_url) as gateway:
        yield gateway


def expected(shape: Shape, key: str) -> Any:
    return EXPECTED[shape.name][key]


def test_stale_backlog_follows_each_shapes_stale_rules(shape: Shape, bot: BotData) -> None:
    backlog = {row.profile: (row.stale, row.oldest, row.quarantined) for row in bot.stale_backlog(NOW)}
    assert backlog == expected(shape, "backlog")


def test_stale_orders_carry_their_account_and_never_a_resting_limit_order(shape: Shape, bot: BotData) -> None:
    stale = bot.stale_orders(NOW)
    assert [order.id for order in stale] == expected(shape, "stale_ids")  # the oldest clock first
    assert all(order.account is not None and order.status_class == "working" for order in stale)
    assert bot.stale_orders(NOW - timedelta(days=10)) == []  # nothing was stale back then


def test_values_the_mapping_does_not_name_are_found_not_counted(shape: Shape, bot: BotData) -> None:
    found = {values.field: values.counts for values in bot.unmapped_values(cap=5) if values.counts}
    assert found == expected(shape, "unmapped")
    every = {values.field: values.counts for values in bot.unmapped_values(cap=50, unmapped_only=False)}
    assert all(set(counts) <= set(every[field]) for field, counts in found.items())
    assert expected(shape, "quarantine")[1] in every["orders.status"]  # a mapped word is listed too
    for field in found:
        word = next(iter(found[field]))
        assert bot.order_class(word) is None  # neither working nor terminal


def test_accounts_and_which_account_each_profile_trades_through(shape: Shape, bot: BotData) -> None:
    assert [(a.id, a.key_id) for a in bot.accounts()] == expected(shape, "accounts")
    assert [(p.profile, p.account) for p in bot.profile_accounts()] == expected(shape, "pairs")
    first, key = expected(shape, "accounts")[0]
    found = bot.account(first)
    assert found is not None and found.key_id == key
    assert bot.account("no-such-account") is None


def test_open_positions_are_signed_and_summed_per_account_and_symbol(shape: Shape, bot: BotData) -> None:
    held = expected(shape, "open")
    assert bot.open_quantities() == held
    account = next(iter(held))
    assert bot.account_positions(account) == held[account]


def test_the_last_close_of_a_ghosts_symbol_names_its_profiles(shape: Shape, bot: BotData) -> None:
    ghost, closes = expected(shape, "ghost")
    assert bot.last_closes([ghost]) == {ghost: closes}
    assert bot.last_closes([(ghost[0], "NO-SUCH")]) == {}


def test_stopping_and_resuming_entries_reads_back_each_change(shape: Shape, bot: BotData) -> None:
    profile_id, accounts, state, value = expected(shape, "profile")
    profile = bot.profile(profile_id)
    assert profile is not None and (profile.accounts, profile.entries.state, profile.entries.value) == (
        accounts, state, value)
    stopped = bot.stop_entries(profile_id, NOW)
    assert stopped.changed and (stopped.entries.state, stopped.entries.value) == ("stopped", expected(shape, "stopped"))
    again = bot.stop_entries(profile_id, NOW)
    assert not again.changed and again.entries.state == "stopped"
    resumed = bot.resume_entries(profile_id, NOW)
    assert resumed.changed and (resumed.entries.state, resumed.entries.value) == (state, value)
    assert bot.profile("no-such-profile") is None


def test_quarantine_is_compare_and_set_on_the_status_seen(shape: Shape, bot: BotData) -> None:
    order_id, seen = expected(shape, "quarantine")
    assert bot.quarantine_order(order_id, "filled", NOW) == "moved_on"  # not the status it has
    assert bot.quarantine_order(order_id, seen, NOW) == "quarantined"
    assert bot.quarantine_order(order_id, seen, NOW) == "already"
    assert bot.order_class(bot.order_statuses([order_id])[order_id]) == "quarantined"
    assert order_id not in [order.id for order in bot.stale_orders(NOW)]
    assert order_id in [order.id for order in bot.quarantined_orders()]


def test_evidence_reads_return_typed_rows(shape: Shape, bot: BotData) -> None:
    order_id, _ = expected(shape, "quarantine")
    stale = next(order for order in bot.stale_orders(NOW) if order.id == order_id)
    orders = bot.orders_of(stale.profile or "", stale.symbol, 10)
    assert order_id in [order.id for order in orders]
    assert all(orders[n].created_at >= orders[n + 1].created_at for n in range(len(orders) - 1))  # type: ignore[operator]
    assert stale.broker_order_id is not None and stale.client_order_id is None  # found at the broker by its id
    ghost, closes = expected(shape, "ghost")
    positions = bot.positions_of(next(iter(closes)), ghost[1], 10)
    assert positions and all(not position.open and position.closed_at is not None for position in positions)


def test_a_resume_never_revives_a_retired_strategy(db_url: str) -> None:
    with gateway_on(strategy_bot, db_url) as bot:
        engine = bot.engine
        change = bot.resume_entries("12", NOW)  # retired: stopped, but not by the stop value
        assert not change.changed and (change.entries.state, change.entries.value) == ("stopped", "retired")
        with engine.begin() as conn:
            conn.execute(update(strategies).where(strategies.c.id == 11).values(status="archived"))
        found = bot.profile("11")
        assert found is not None and found.entries.state == "unknown"  # loud, never "enabled"
        unmapped = {v.field: v.counts for v in bot.unmapped_values(cap=5)}
        assert unmapped["profiles.entries"] == {"archived": 1}
        assert not bot.stop_entries("11", NOW).changed  # compare-and-set only over an enabled value


def test_a_lock_lifted_by_someone_else_or_expired_no_longer_stops_entries(db_url: str) -> None:
    with gateway_on(trade_bot, db_url) as bot:
        engine = bot.engine
        assert bot.stop_entries("freqtrade", NOW).entries.state == "stopped"
        with engine.connect() as conn:
            (lock,) = conn.execute(select(pairlocks)).all()
        assert (lock.pair, lock.side, lock.active) == ("*", "*", True)
        now_ms = int(NOW.timestamp() * 1000)
        assert (lock.lock_time, lock.lock_end_time) == (now_ms, now_ms + 3_600_000)
        later = BotData(engine, BotMapping.model_validate(trade_bot.mapping), 300, lambda: NOW + timedelta(hours=2))
        found = later.profile("freqtrade")
        assert found is not None and found.entries.state == "enabled"  # the lock expired
        with engine.begin() as conn:
            conn.execute(update(pairlocks).values(active=False))  # someone else lifted it
        lifted = bot.profile("freqtrade")
        assert lifted is not None and lifted.entries.state == "enabled"
        assert not bot.resume_entries("freqtrade", NOW).changed  # nothing of ours still holds


def test_the_boolean_bots_naive_timestamps_are_utc(db_url: str) -> None:
    with gateway_on(boolean_bot, db_url) as bot:
        (order,) = [o for o in bot.stale_orders(NOW) if o.id == "o1"]
        assert order.created_at == NOW - timedelta(minutes=15) and order.created_at.tzinfo is not None
        assert order.side == "sell" and order.updated_at is None
