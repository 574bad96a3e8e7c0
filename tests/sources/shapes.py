"""Hand-built bot schemas of other shapes (docs/bot-database.md, the variations real bots show) and the
mapping that connects each: the gateway must read and write them with configuration only.

- `strategy_bot`: strategies with a status enum (``paused``), reached through an assignment table;
  orders linked to their strategy through ``trade_proposals``, normalised statuses, no client order id,
  ``updated_at`` written only on change; positions with ``quantity`` and ``open|closed|flattening``;
  broker key ids only in the configuration; integer ids.
- `boolean_bot`: profiles enabled by a boolean; upper-case Alpaca statuses matched case-insensitively;
  orders with only ``submitted_at`` and the broker id as ``alpaca_order_id``; positions as
  ``position_type`` + unsigned ``quantity``, open while ``closed_at`` is NULL; naive UTC timestamps.
- `trade_bot`: a ccxt-style bot with one strategy and no profile table; positions are the sum of open
  trade rows (``is_open``, unsigned ``amount``, ``is_short``); ccxt order words; epoch-millisecond
  timestamps; entries stopped by INSERTing a ``pairlocks`` row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    insert,
)

NOW = datetime.fromisoformat("2026-11-24T12:00:00+00:00")


def ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def naive(at: datetime) -> datetime:
    return at.replace(tzinfo=None)


@dataclass(frozen=True)
class Shape:
    name: str
    metadata: MetaData
    mapping: dict[str, Any]
    seed: Callable[[Engine], None]

    def create(self, engine: Engine) -> None:
        self.metadata.create_all(engine)
        self.seed(engine)


def _rows(engine: Engine, table: Table, *rows: dict[str, Any]) -> None:
    with engine.begin() as conn:
        conn.execute(insert(table), list(rows))


# --- the strategy-table bot -------------------------------------------------------------------------------

strategy_meta = MetaData()
broker_accounts = Table(
    "broker_accounts", strategy_meta, Column("id", Integer, primary_key=True), Column("name", String(64)),
    Column("trading_mode", String(8)), Column("is_enabled", Boolean),
)
strategies = Table(
    "strategies", strategy_meta, Column("id", Integer, primary_key=True), Column("name", String(64)),
    Column("status", String(16)), Column("updated_at", DateTime(timezone=True)),
)
strategy_accounts = Table(
    "strategy_accounts", strategy_meta, Column("strategy_id", Integer), Column("broker_account_id", Integer),
)
trade_proposals = Table(
    "trade_proposals", strategy_meta, Column("id", Integer, primary_key=True), Column("strategy_id", Integer),
    Column("symbol", String(16)),
)
strategy_orders = Table(
    "orders", strategy_meta, Column("id", Integer, primary_key=True), Column("trade_proposal_id", Integer),
    Column("broker_account_id", Integer), Column("broker_order_id", String(64)), Column("symbol", String(16)),
    Column("side", String(8)), Column("order_type", String(16)), Column("quantity", Float),
    Column("status", String(24)), Column("submitted_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True)), Column("updated_at", DateTime(timezone=True)),
)
strategy_positions = Table(
    "positions", strategy_meta, Column("id", Integer, primary_key=True), Column("broker_account_id", Integer),
    Column("strategy_id", Integer, nullable=True), Column("symbol", String(16)), Column("quantity", Float),
    Column("status", String(16)), Column("opened_at", DateTime(timezone=True)),
    Column("closed_at", DateTime(timezone=True), nullable=True),
)

STRATEGY_MAPPING: dict[str, Any] = {
    "accounts": {"table": "broker_accounts", "key_ids": {"1": "AKSTRAT1", "2": "AKSTRAT2"}},
    "profiles": {
        "table": "strategies",
        "name": "name",
        "account": {"through": [{"table": "strategy_accounts", "key": "strategy_id", "from": "id"}],
                    "column": "broker_account_id"},
        "entries": {"mechanism": "column", "column": "status", "enabled": ["live_eligible", "paper"],
                    "stopped": ["paused", "retired", "development", "backtesting"], "stop": "paused",
                    "resume": "live_eligible", "touch": "updated_at"},
    },
    "orders": {
        "table": "orders",
        "profile": {"through": [{"table": "trade_proposals", "key": "id", "from": "trade_proposal_id"}],
                    "column": "strategy_id"},
        "account": "broker_account_id",
        "side": "side",
        "qty": "quantity",
        "order_type": "order_type",
        "broker_order_id": "broker_order_id",
        "created_at": "created_at",
        "updated_at": "updated_at",
        "statuses": {"working": ["new", "submitted", "partially_filled"],
                     "terminal": ["filled", "cancelled", "rejected", "expired"], "quarantined": ["unknown"],
                     "rejected": ["rejected"]},
        "quarantine": {"write": "unknown", "touch": "updated_at"},
        "stale": [
            {"status": ["submitted", "partially_filled"], "order_type": ["limit", "stop_limit"], "never": True},
            {"status": ["new"], "clock": "created_at", "after_seconds": 120},
            {"class": "working", "clock": "submitted_at", "after_seconds": 300},
        ],
    },
    "positions": {
        "table": "positions",
        "account": "broker_account_id",
        "profile": "strategy_id",
        "quantity": "quantity",
        "open": {"status": {"column": "status", "open": ["open", "flattening"], "closed": ["closed"]}},
        "opened_at": "opened_at",
        "closed_at": "closed_at",
    },
}


def _seed_strategy(engine: Engine) -> None:
    day = timedelta(days=1)
    _rows(engine, broker_accounts, {"id": 1, "name": "main", "trading_mode": "live", "is_enabled": True},
          {"id": 2, "name": "paper", "trading_mode": "paper", "is_enabled": True})
    _rows(engine, strategies, {"id": 10, "name": "momentum", "status": "live_eligible", "updated_at": NOW - day},
          {"id": 11, "name": "meanrev", "status": "paper", "updated_at": NOW - day},
          {"id": 12, "name": "old", "status": "retired", "updated_at": NOW - 30 * day})
    _rows(engine, strategy_accounts, {"strategy_id": 10, "broker_account_id": 1},
          {"strategy_id": 11, "broker_account_id": 2}, {"strategy_id": 12, "broker_account_id": 1})
    _rows(engine, trade_proposals, {"id": 100, "strategy_id": 10, "symbol": "AAPL"},
          {"id": 105, "strategy_id": 11, "symbol": "AAPL"})

    def order(n: int, status: str, order_type: str, submitted: datetime, proposal: int = 100) -> dict[str, Any]:
        return {"id": n, "trade_proposal_id": proposal, "broker_account_id": 1 if proposal == 100 else 2,
                "broker_order_id": f"b-{n}", "symbol": "AAPL", "side": "buy", "order_type": order_type,
                "quantity": 1.0, "status": status, "submitted_at": submitted, "created_at": submitted,
                "updated_at": submitted}

    _rows(engine, strategy_orders,
          order(1, "submitted", "limit", NOW - 3 * day),  # a resting GTC limit order: never stale
          order(2, "submitted", "market", NOW - timedelta(minutes=10)),  # market order past its SLA: stale
          order(3, "new", "market", NOW - timedelta(minutes=5)),  # new past 120 s: stale
          order(4, "submitted", "market", NOW - timedelta(minutes=2)),  # inside its SLA
          order(5, "filled", "market", NOW - 3 * day),  # terminal
          order(6, "unknown", "market", NOW - 3 * day),  # quarantined
          order(7, "Submitted", "market", NOW - 3 * day),  # a word the mapping does not name
          order(15, "submitted", "market", NOW - timedelta(hours=2), proposal=105))  # strategy 11's
    _rows(engine, strategy_positions,
          {"id": 1, "broker_account_id": 1, "strategy_id": 10, "symbol": "AAPL", "quantity": 10.0, "status": "open",
           "opened_at": NOW - day, "closed_at": None},
          {"id": 2, "broker_account_id": 1, "strategy_id": 10, "symbol": "TSLA", "quantity": -4.0,
           "status": "flattening", "opened_at": NOW - day, "closed_at": None},
          {"id": 3, "broker_account_id": 1, "strategy_id": 12, "symbol": "NVDA", "quantity": 3.0, "status": "closed",
           "opened_at": NOW - 3 * day, "closed_at": NOW - 2 * day},
          {"id": 4, "broker_account_id": 1, "strategy_id": 10, "symbol": "NVDA", "quantity": 2.0, "status": "closed",
           "opened_at": NOW - 2 * day, "closed_at": NOW - day},
          {"id": 5, "broker_account_id": 1, "strategy_id": None, "symbol": "MSFT", "quantity": 1.0, "status": "open",
           "opened_at": NOW - day, "closed_at": None})


strategy_bot = Shape("strategy_bot", strategy_meta, STRATEGY_MAPPING, _seed_strategy)


# --- the boolean-enablement bot ---------------------------------------------------------------------------

boolean_meta = MetaData()
alpaca_accounts = Table(
    "alpaca_accounts", boolean_meta, Column("id", String(36), primary_key=True), Column("alpaca_key_id", String(64)),
)
trading_profiles = Table(
    "trading_profiles", boolean_meta, Column("id", String(36), primary_key=True), Column("name", String(64)),
    Column("is_active", Boolean), Column("alpaca_account_id", String(36)), Column("updated_at", DateTime()),
)
bot_orders = Table(
    "bot_orders", boolean_meta, Column("id", String(36), primary_key=True), Column("profile_id", String(36)),
    Column("symbol", String(16)), Column("side", String(8)), Column("qty", Float), Column("status", String(24)),
    Column("alpaca_order_id", String(64)), Column("submitted_at", DateTime()),
)
bot_positions = Table(
    "bot_positions", boolean_meta, Column("id", Integer, primary_key=True), Column("profile_id", String(36)),
    Column("symbol", String(16)), Column("position_type", String(8)), Column("quantity", Float),
    Column("opened_at", DateTime()), Column("closed_at", DateTime(), nullable=True),
)

BOOLEAN_MAPPING: dict[str, Any] = {
    "timestamps": "naive_utc",
    "accounts": {"table": "alpaca_accounts", "key_id": "alpaca_key_id"},
    "profiles": {
        "table": "trading_profiles",
        "account": "alpaca_account_id",
        "entries": {"mechanism": "column", "column": "is_active", "enabled": [True], "stopped": [False],
                    "stop": False, "resume": True, "touch": "updated_at"},
    },
    "orders": {
        "table": "bot_orders",
        "profile": "profile_id",
        "side": "side",
        "qty": "qty",
        "broker_order_id": "alpaca_order_id",
        "created_at": "submitted_at",
        "statuses": {
            "working": ["new", "accepted", "pending_new", "partially_filled", "pending_cancel"],
            "terminal": ["filled", "canceled", "expired", "rejected", "replaced"],
            "quarantined": ["unknown"],
            "rejected": ["rejected"],
            "case_insensitive": True,
        },
        "quarantine": {"write": "UNKNOWN"},
        "stale": [{"class": "working", "clock": "submitted_at", "after_seconds": 600}],
    },
    "positions": {
        "table": "bot_positions",
        "profile": "profile_id",
        "quantity": {"column": "quantity", "side": {"column": "position_type", "long": ["long"], "short": ["short"]}},
        "open": {"closed_at_null": True},
        "opened_at": "opened_at",
        "closed_at": "closed_at",
    },
}


def _seed_boolean(engine: Engine) -> None:
    _rows(engine, alpaca_accounts, {"id": "acc-a", "alpaca_key_id": "AKBOOL1"})
    _rows(engine, trading_profiles,
          {"id": "prof-1", "name": "swing", "is_active": True, "alpaca_account_id": "acc-a",
           "updated_at": naive(NOW)},
          {"id": "prof-2", "name": "scalp", "is_active": False, "alpaca_account_id": "acc-a",
           "updated_at": naive(NOW)})

    def order(n: str, status: str, age: timedelta, profile: str = "prof-1") -> dict[str, Any]:
        return {"id": n, "profile_id": profile, "symbol": "SPY", "side": "sell", "qty": 2.0, "status": status,
                "alpaca_order_id": f"alp-{n}", "submitted_at": naive(NOW - age)}

    _rows(engine, bot_orders, order("o1", "PENDING_NEW", timedelta(minutes=15)),
          order("o2", "NEW", timedelta(minutes=5)), order("o3", "FILLED", timedelta(days=2)),
          order("o4", "Unknown", timedelta(days=2)), order("o5", "pending_new", timedelta(hours=1), "prof-2"),
          order("o6", "SUSPENDED", timedelta(days=1)))  # a word the mapping does not name
    _rows(engine, bot_positions,
          {"id": 1, "profile_id": "prof-1", "symbol": "SPY", "position_type": "short", "quantity": 5.0,
           "opened_at": naive(NOW), "closed_at": None},
          {"id": 2, "profile_id": "prof-1", "symbol": "QQQ", "position_type": "long", "quantity": 3.0,
           "opened_at": naive(NOW), "closed_at": None},
          {"id": 3, "profile_id": "prof-2", "symbol": "IWM", "position_type": "long", "quantity": 7.0,
           "opened_at": naive(NOW - timedelta(days=2)), "closed_at": naive(NOW - timedelta(days=1))})


boolean_bot = Shape("boolean_bot", boolean_meta, BOOLEAN_MAPPING, _seed_boolean)


# --- the ccxt-style trade bot -----------------------------------------------------------------------------

trade_meta = MetaData()
trades = Table(
    "trades", trade_meta, Column("id", Integer, primary_key=True), Column("pair", String(32)),
    Column("is_open", Boolean), Column("amount", Float), Column("is_short", Boolean),
    Column("open_date", BigInteger), Column("close_date", BigInteger, nullable=True),
)
trade_orders = Table(
    "orders", trade_meta, Column("id", Integer, primary_key=True), Column("ft_trade_id", Integer),
    Column("ft_pair", String(32)), Column("ft_order_side", String(16)), Column("order_id", String(64)),
    Column("status", String(16)), Column("order_type", String(16)), Column("amount", Float),
    Column("order_date", BigInteger), Column("order_update_date", BigInteger),
)
pairlocks = Table(
    "pairlocks", trade_meta, Column("id", Integer, primary_key=True, autoincrement=True),
    Column("pair", String(32)), Column("side", String(8)), Column("reason", String(255)),
    Column("lock_time", BigInteger), Column("lock_end_time", BigInteger), Column("active", Boolean),
)

TRADE_MAPPING: dict[str, Any] = {
    "timestamps": "epoch_millis",
    "accounts": {"key_ids": {"binance-main": "AKTRADE1"}},
    "profiles": {
        "static": [{"id": "freqtrade", "account": "binance-main"}],
        "entries": {"mechanism": "lock_table", "table": "pairlocks",
                    "values": {"pair": "*", "side": "*", "reason": "incident automation: entries stopped"},
                    "match": {"pair": ["*"], "side": ["*"]}, "starts_at": "lock_time", "ends_at": "lock_end_time",
                    "duration_seconds": 3600, "active": "active"},
    },
    "orders": {
        "table": "orders",
        "profile": {"value": "freqtrade"},
        "symbol": "ft_pair",
        "side": "ft_order_side",
        "sides": {"buy": ["buy"], "sell": ["sell", "stoploss"]},
        "qty": "amount",
        "order_type": "order_type",
        "broker_order_id": "order_id",
        "created_at": "order_date",
        "updated_at": "order_update_date",
        "statuses": {"working": ["open"], "terminal": ["closed", "canceled", "expired", "rejected"],
                     "quarantined": ["unknown"], "rejected": ["rejected"]},
        "quarantine": {"write": "unknown"},
        "stale": [{"status": ["open"], "order_type": ["limit"], "never": True},
                  {"class": "working", "clock": "order_date", "after_seconds": 600}],
    },
    "positions": {
        "table": "trades",
        "profile": {"value": "freqtrade"},
        "symbol": "pair",
        "quantity": {"column": "amount", "short_flag": "is_short"},
        "open": {"flag": "is_open"},
        "opened_at": "open_date",
        "closed_at": "close_date",
    },
}


def _seed_trade(engine: Engine) -> None:
    hour = timedelta(hours=1)
    _rows(engine, trades,
          {"id": 1, "pair": "BTC/USDT", "is_open": True, "amount": 0.5, "is_short": False,
           "open_date": ms(NOW - hour), "close_date": None},
          {"id": 2, "pair": "BTC/USDT", "is_open": True, "amount": 0.25, "is_short": False,
           "open_date": ms(NOW - hour), "close_date": None},
          {"id": 3, "pair": "ETH/USDT:USDT", "is_open": True, "amount": 2.0, "is_short": True,
           "open_date": ms(NOW - hour), "close_date": None},
          {"id": 4, "pair": "SOL/USDT", "is_open": False, "amount": 9.0, "is_short": False,
           "open_date": ms(NOW - 5 * hour), "close_date": ms(NOW - 2 * hour)})

    def order(n: int, status: str, order_type: str, age: timedelta, side: str = "buy") -> dict[str, Any]:
        return {"id": n, "ft_trade_id": 1, "ft_pair": "BTC/USDT", "ft_order_side": side, "order_id": f"x-{n}",
                "status": status, "order_type": order_type, "amount": 0.1, "order_date": ms(NOW - age),
                "order_update_date": ms(NOW - age)}

    _rows(engine, trade_orders, order(1, "open", "limit", 30 * hour),  # resting limit: never stale
          order(2, "open", "market", 20 * timedelta(minutes=1)),  # past its 600 s: stale
          order(3, "open", "stop_loss", 2 * timedelta(minutes=1), "stoploss"),  # inside its SLA
          order(4, "closed", "market", 30 * hour), order(5, "unknown", "market", 30 * hour))


trade_bot = Shape("trade_bot", trade_meta, TRADE_MAPPING, _seed_trade)

SHAPES = (strategy_bot, boolean_bot, trade_bot)
