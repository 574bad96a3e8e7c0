"""The deterministic small seed: accounts, profiles, positions and orders the simulator starts from.

Profiles ``p-1..`` are assigned round-robin to accounts ``acct-1..`` (so several profiles share an
account). Each profile holds one open position with filled entry orders, two closed historical
positions (entry and exit filled) and one fresh working order. Every fourth profile is short.

``crypto_profiles`` more profiles follow (``p-<profiles+1>..``, round-robin on the same accounts), each
trading one pair of ``crypto_symbols`` in the bot's spelling, ``BTC/USD``: one open long from a filled buy
(the bot records the order's quantity; the broker, built from this, holds it less the fee paid in the asset),
one closed round trip in the next pair, and one fresh working order.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select

from common.config import SeedConfig
from common.db import write_transaction
from simulator.broker.market import price_of
from sources.botdb import broker_accounts, create_schema, orders, positions, profiles

SEED_RNG = "tradingbot-simulator-seed"


def account_id(index: int) -> str:
    return f"acct-{index}"


def api_key_id(account: str) -> str:
    return f"sim-key-{account}"


def profile_account(profile_index: int, accounts: int) -> str:
    """Round-robin: profile i (1-based) trades through account ((i-1) mod N) + 1."""
    return account_id((profile_index - 1) % accounts + 1)


def broker_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


@dataclass
class SeedRows:
    accounts: list[dict[str, Any]] = field(default_factory=list)
    profiles: list[dict[str, Any]] = field(default_factory=list)
    positions: list[dict[str, Any]] = field(default_factory=list)
    orders: list[dict[str, Any]] = field(default_factory=list)

    def order(self, rng: random.Random, profile: str, symbol: str, side: str, qty: float, status: str,
              at: datetime, purpose: str, updated: datetime | None = None) -> None:
        number = len(self.orders) + 1
        code = symbol.lower().replace("/", "")
        self.orders.append({
            "id": f"o-{number:06d}", "profile_id": profile, "symbol": symbol, "side": side, "qty": qty,
            "status": status, "client_order_id": f"{profile}-{code}-{purpose}-{number:06d}",
            "broker_order_id": broker_uuid(rng), "created_at": at, "updated_at": updated or at,
        })


def _open_position(rows: SeedRows, rng: random.Random, profile: str, index: int, symbol: str,
                   now: datetime) -> None:
    qty = 10.0 * ((index - 1) % 5 + 1)
    short = index % 4 == 0
    side = "sell" if short else "buy"
    opened = now - timedelta(hours=6 + index)
    half = qty // 2
    rows.order(rng, profile, symbol, side, qty - half, "filled", opened, "entry")
    rows.order(rng, profile, symbol, side, half, "filled", opened + timedelta(minutes=5), "entry")
    rows.positions.append({
        "profile_id": profile, "symbol": symbol, "qty": -qty if short else qty,
        "avg_entry_price": price_of(symbol), "status": "open", "opened_at": opened, "closed_at": None,
        "updated_at": opened + timedelta(minutes=5),
    })


def _closed_positions(rows: SeedRows, rng: random.Random, profile: str, index: int, symbols: list[str],
                      now: datetime) -> None:
    for offset in (1, 2):
        symbol = symbols[(index - 1 + offset) % len(symbols)]
        qty = 5.0 * offset
        opened = now - timedelta(days=offset + 1, hours=index)
        closed = opened + timedelta(hours=3)
        rows.order(rng, profile, symbol, "buy", qty, "filled", opened, "entry")
        rows.order(rng, profile, symbol, "sell", qty, "filled", closed, "exit")
        rows.positions.append({
            "profile_id": profile, "symbol": symbol, "qty": qty, "avg_entry_price": price_of(symbol),
            "status": "closed", "opened_at": opened, "closed_at": closed, "updated_at": closed,
        })


CRYPTO_SIZES = {"BTC/USD": 0.05, "ETH/USD": 0.8, "LINK/USD": 40.0}  # about 600-3,000 USD each


def crypto_size(symbol: str) -> float:
    return CRYPTO_SIZES.get(symbol, 1.0)


@dataclass(frozen=True)
class CryptoProfile:
    id: str
    account: str
    symbol: str  # the pair the profile trades, as the bot spells it


def crypto_profiles(seed: SeedConfig) -> list[CryptoProfile]:
    """The seed's crypto profiles, after the equity ones, round-robin on the same accounts."""
    found = []
    for number in range(seed.crypto_profiles):
        index = seed.profiles + number + 1
        symbol = seed.crypto_symbols[number % len(seed.crypto_symbols)]
        found.append(CryptoProfile(f"p-{index}", profile_account(index, seed.accounts), symbol))
    return found


def _crypto_profile(rows: SeedRows, rng: random.Random, seed: SeedConfig, profile: CryptoProfile, number: int,
                    now: datetime) -> None:
    rows.profiles.append({"id": profile.id, "name": f"crypto {profile.symbol}", "status": "active",
                          "account_id": profile.account, "updated_at": now - timedelta(days=7)})
    qty, opened = crypto_size(profile.symbol), now - timedelta(hours=2 + number)
    rows.order(rng, profile.id, profile.symbol, "buy", qty, "filled", opened, "entry")
    rows.positions.append({"profile_id": profile.id, "symbol": profile.symbol, "qty": qty,
                           "avg_entry_price": price_of(profile.symbol), "status": "open", "opened_at": opened,
                           "closed_at": None, "updated_at": opened})
    other = seed.crypto_symbols[(number + 1) % len(seed.crypto_symbols)]
    bought, entered = crypto_size(other), now - timedelta(days=1, hours=number)
    rows.order(rng, profile.id, other, "buy", bought, "filled", entered, "entry")
    rows.order(rng, profile.id, other, "sell", bought * 0.99, "filled", entered + timedelta(hours=1), "exit")
    rows.positions.append({"profile_id": profile.id, "symbol": other, "qty": bought,
                           "avg_entry_price": price_of(other), "status": "closed", "opened_at": entered,
                           "closed_at": entered + timedelta(hours=1), "updated_at": entered + timedelta(hours=1)})
    rows.order(rng, profile.id, profile.symbol, "buy", qty, "new", now - timedelta(seconds=30), "working",
               updated=now - timedelta(seconds=1))


def build_seed(seed: SeedConfig, now: datetime) -> SeedRows:
    """Build the seed rows; the same config and `now` always give the same rows."""
    rng = random.Random(SEED_RNG)
    rows = SeedRows()
    for index in range(1, seed.accounts + 1):
        account = account_id(index)
        rows.accounts.append({"id": account, "api_key_id": api_key_id(account), "label": f"simulated {account}"})
    symbols = list(seed.symbols)
    for index in range(1, seed.profiles + 1):
        profile = f"p-{index}"
        rows.profiles.append({
            "id": profile, "name": f"strategy {index}", "status": "active",
            "account_id": profile_account(index, seed.accounts), "updated_at": now - timedelta(days=7),
        })
        symbol = symbols[(index - 1) % len(symbols)]
        _open_position(rows, rng, profile, index, symbol, now)
        _closed_positions(rows, rng, profile, index, symbols, now)
        status = "new" if index % 2 else "accepted"
        rows.order(rng, profile, symbol, "buy", 1.0, status, now - timedelta(seconds=30), "working",
                   updated=now - timedelta(seconds=1))
    for number, crypto in enumerate(crypto_profiles(seed)):
        _crypto_profile(rows, rng, seed, crypto, number, now)
    return rows


def clear_bot_db(conn: Connection) -> None:
    """Delete every row of the bot's tables (children first)."""
    for table in (orders, positions, profiles, broker_accounts):
        conn.execute(delete(table))


def seed_bot_db(engine: Engine, seed: SeedConfig, now: datetime) -> dict[str, int]:
    """Replace the bot's rows with the deterministic seed; return the row counts."""
    rows = build_seed(seed, now)
    with write_transaction(engine) as conn:
        clear_bot_db(conn)
        conn.execute(insert(broker_accounts), rows.accounts)
        conn.execute(insert(profiles), rows.profiles)
        conn.execute(insert(positions), rows.positions)
        conn.execute(insert(orders), rows.orders)
    return {"accounts": len(rows.accounts), "profiles": len(rows.profiles), "positions": len(rows.positions),
            "orders": len(rows.orders)}


def ensure_seeded(engine: Engine, seed: SeedConfig, now: datetime) -> dict[str, int] | None:
    """Create the schema and seed it when it holds no accounts; return the counts if it seeded."""
    create_schema(engine)
    with engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(broker_accounts)).scalar_one()
    return None if count else seed_bot_db(engine, seed, now)
