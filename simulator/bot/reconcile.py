"""The bot's reconciliation cycle: make its open positions match what the broker holds.

Positions are matched per instrument (the broker's ``BTCUSD`` is the bot's ``BTC/USD``); a crypto difference
smaller than the asset's ``min_order_size`` is dust and left alone (no order could trade it)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from common.db import write_transaction
from simulator.bot.store import inserted_id
from simulator.broker.book import BrokerBook
from simulator.broker.market import crypto_asset, price_of
from sources.botdb import POSITION_CLOSED, POSITION_OPEN, positions, profiles
from sources.instruments import Instrument, instrument

EPSILON = 1e-9


@dataclass
class Reconciliation:
    reopened: list[dict[str, Any]] = field(default_factory=list)
    closed: list[dict[str, Any]] = field(default_factory=list)
    adjusted: list[dict[str, Any]] = field(default_factory=list)
    skipped_accounts: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        changed = len(self.reopened) + len(self.closed) + len(self.adjusted)
        return {"reopened": self.reopened, "closed": self.closed, "adjusted": self.adjusted, "changed": changed,
                "skipped_accounts": self.skipped_accounts}


Key = tuple[str, Instrument]  # account, instrument


def _open_rows(conn: Connection) -> dict[Key, list[Any]]:
    query = (
        select(positions.c.id, positions.c.profile_id, positions.c.symbol, positions.c.qty, profiles.c.account_id)
        .join(profiles, profiles.c.id == positions.c.profile_id)
        .where(positions.c.status == POSITION_OPEN)
        .order_by(positions.c.id)
    )
    rows: dict[Key, list[Any]] = defaultdict(list)
    for row in conn.execute(query):
        rows[(row.account_id, instrument(row.symbol))].append(row)
    return rows


def _reopen(conn: Connection, account: str, held: Instrument, qty: float, now: datetime, out: Reconciliation) -> None:
    """Re-open a ghost for the profile that last held `held` in `account` (else the account's first)."""
    symbol = held.symbol
    last_closed = conn.execute(
        select(positions.c.id, positions.c.profile_id)
        .join(profiles, profiles.c.id == positions.c.profile_id)
        .where(profiles.c.account_id == account, positions.c.symbol.in_(held.spellings),
               positions.c.status == POSITION_CLOSED)
        .order_by(positions.c.closed_at.desc(), positions.c.id.desc()).limit(1)
    ).first()
    if last_closed is not None:
        conn.execute(update(positions).where(positions.c.id == last_closed.id).values(
            status=POSITION_OPEN, qty=qty, closed_at=None, updated_at=now))
        profile, position_id = last_closed.profile_id, last_closed.id
    else:
        profile = conn.execute(select(profiles.c.id).where(profiles.c.account_id == account)
                               .order_by(profiles.c.id).limit(1)).scalar()
        if profile is None:
            return  # no profile trades through this account: nothing in the bot to re-open
        position_id = inserted_id(conn.execute(insert(positions).values(
            profile_id=profile, symbol=symbol, qty=qty, avg_entry_price=price_of(symbol), status=POSITION_OPEN,
            opened_at=now, closed_at=None, updated_at=now)))
    out.reopened.append({"account": account, "symbol": symbol, "profile": profile, "qty": qty,
                         "position_id": position_id})


def _fix(conn: Connection, key: Key, broker_qty: float, rows: list[Any], now: datetime,
         out: Reconciliation) -> None:
    account, held = key
    symbol = held.symbol
    if not rows:
        _reopen(conn, account, held, broker_qty, now, out)
    elif abs(broker_qty) < EPSILON:
        for row in rows:
            conn.execute(update(positions).where(positions.c.id == row.id).values(
                status=POSITION_CLOSED, closed_at=now, updated_at=now))
            out.closed.append({"account": account, "symbol": symbol, "profile": row.profile_id, "qty": row.qty,
                               "position_id": row.id})
    else:
        newest = rows[-1]
        qty = newest.qty + broker_qty - sum(row.qty for row in rows)
        conn.execute(update(positions).where(positions.c.id == newest.id).values(qty=qty, updated_at=now))
        out.adjusted.append({"account": account, "symbol": symbol, "profile": newest.profile_id,
                             "from_qty": newest.qty, "qty": qty, "position_id": newest.id})


def reconcile(engine: Engine, book: BrokerBook, now: datetime,
              unreachable: Callable[[str], bool] = lambda _account: False) -> Reconciliation:
    """Re-open ghosts with the broker's quantity, close phantoms, adjust differing quantities.

    Accounts whose broker read fails (`unreachable`) are skipped: a failed read is not "flat".
    """
    out = Reconciliation()
    readable = [account for account in book.accounts() if not unreachable(account)]
    out.skipped_accounts = sorted(set(book.accounts()) - set(readable))
    broker = {(account, instrument(p.symbol)): p.qty for account in readable for p in book.positions(account)}
    with write_transaction(engine) as conn:
        bot = _open_rows(conn)
        for key in sorted(set(broker) | set(bot)):
            if key[0] in out.skipped_accounts:
                continue
            broker_qty = broker.get(key, 0.0)
            rows = bot.get(key, [])
            if abs(broker_qty - sum(row.qty for row in rows)) > _tolerance(key[1]):
                _fix(conn, key, broker_qty, rows, now, out)
    return out


def _tolerance(held: Instrument) -> float:
    """Exact for equities; below the asset's min_order_size for crypto (dust cannot be traded)."""
    asset = crypto_asset(held)
    return asset.min_order_size if asset else EPSILON
