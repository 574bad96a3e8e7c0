"""The simulated broker's in-memory state: per account, its positions and its orders (thread-safe).

As at Alpaca, a crypto pair's orders carry the pair form (``BTC/USD``) and its position the compact form
(``BTCUSD``); both are accepted wherever a symbol is asked for. Crypto quantities keep 9 decimals."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

from simulator.broker.market import CRYPTO_PRECISION
from sources.botdb import WORKING_STATUSES
from sources.instruments import instrument

CancelOutcome = Literal["canceled", "not_cancelable", "missing"]


@dataclass
class SimOrder:
    id: str
    client_order_id: str
    account: str
    symbol: str
    side: str
    qty: float
    status: str
    created_at: datetime
    updated_at: datetime
    order_type: str = "market"
    time_in_force: str = "day"
    limit_price: float | None = None
    filled_qty: float = 0.0
    filled_avg_price: float | None = None
    filled_at: datetime | None = None
    canceled_at: datetime | None = None
    expired_at: datetime | None = None
    failed_at: datetime | None = None


@dataclass
class SimPosition:
    symbol: str
    qty: float  # signed: negative when short
    avg_entry_price: float


@dataclass
class AccountBook:
    positions: dict[str, SimPosition] = field(default_factory=dict)
    orders: dict[str, SimOrder] = field(default_factory=dict)
    by_client: dict[str, str] = field(default_factory=dict)

    def add(self, order: SimOrder) -> None:
        self.orders[order.id] = order
        self.by_client[order.client_order_id] = order.id


class DuplicateClientOrderId(ValueError):
    """The account already has an order with this client_order_id."""


class InsufficientBalance(ValueError):
    """A crypto sell (or close) of more than the account holds: crypto is long only."""

    def __init__(self, symbol: str, requested: float, available: float) -> None:
        super().__init__(f"insufficient balance for {symbol} (requested: {requested:g}, available: {available:g})")


def position_key(symbol: str) -> str:
    """The symbol a position is filed under: the compact form for crypto, the ticker for equities."""
    return instrument(symbol).position_symbol


def order_symbol(symbol: str) -> str:
    """The symbol an order carries: the pair form for crypto, the ticker for equities."""
    return instrument(symbol).symbol


def new_order_id() -> str:
    return str(uuid.uuid4())


def _moved(position: SimPosition | None, symbol: str, delta: float, price: float) -> SimPosition | None:
    """Apply a signed fill of `delta` at `price` to a position; None when it ends flat."""
    old = position.qty if position else 0.0
    new = old + delta
    if instrument(symbol).crypto:
        new = round(new, CRYPTO_PRECISION)
    if abs(new) < 1e-9:
        return None
    if position is None or old * new < 0:
        return SimPosition(symbol, new, price)
    if abs(new) > abs(old):  # adding to the position: weighted average entry
        avg = (abs(old) * position.avg_entry_price + abs(delta) * price) / abs(new)
        return SimPosition(symbol, new, avg)
    return SimPosition(symbol, new, position.avg_entry_price)


class BrokerBook:
    """Positions and orders per account, behind one lock; readers always get copies."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._accounts: dict[str, AccountBook] = {}
        self._keys: dict[str, str] = {}
        self._updates: list[SimOrder] = []

    def replace(self, keys: dict[str, str], accounts: dict[str, AccountBook]) -> None:
        """Swap in a whole new state (`keys`: api_key_id -> account id)."""
        with self._lock:
            self._keys = dict(keys)
            self._accounts = accounts
            self._updates = []

    def account_for_key(self, key_id: str) -> str | None:
        with self._lock:
            return self._keys.get(key_id)

    def key_for_account(self, account: str) -> str | None:
        with self._lock:
            return next((key for key, acct in self._keys.items() if acct == account), None)

    def accounts(self) -> list[str]:
        with self._lock:
            return sorted(self._accounts)

    def _book(self, account: str) -> AccountBook:
        return self._accounts.setdefault(account, AccountBook())

    def positions(self, account: str) -> list[SimPosition]:
        with self._lock:
            book = self._accounts.get(account)
            return [replace(p) for _, p in sorted(book.positions.items())] if book else []

    def position(self, account: str, symbol: str) -> SimPosition | None:
        with self._lock:
            found = self._book(account).positions.get(position_key(symbol))
            return replace(found) if found else None

    def orders(self, account: str, statuses: frozenset[str] | None, symbols: frozenset[str] | None,
               limit: int) -> list[SimOrder]:
        """Orders newest first, filtered by status set and symbols (any spelling), at most `limit`."""
        symbols = frozenset(order_symbol(symbol) for symbol in symbols) if symbols is not None else None
        with self._lock:
            book = self._accounts.get(account)
            found = [
                replace(o) for o in (book.orders.values() if book else ())
                if (statuses is None or o.status in statuses) and (symbols is None or o.symbol in symbols)
            ]
        found.sort(key=lambda o: (o.created_at, o.id), reverse=True)
        return found[:limit]

    def order(self, account: str, order_id: str) -> SimOrder | None:
        with self._lock:
            found = self._book(account).orders.get(order_id)
            return replace(found) if found else None

    def order_by_client_id(self, account: str, client_order_id: str) -> SimOrder | None:
        with self._lock:
            book = self._book(account)
            order_id = book.by_client.get(client_order_id)
            return replace(book.orders[order_id]) if order_id else None

    def cancel(self, account: str, order_id: str, now: datetime) -> CancelOutcome:
        """Cancel a working order; the change is queued for the bot's order-update stream."""
        with self._lock:
            order = self._book(account).orders.get(order_id)
            if order is None:
                return "missing"
            if order.status not in WORKING_STATUSES or order.status == "pending_cancel":
                return "not_cancelable"
            order.status, order.canceled_at, order.updated_at = "canceled", now, now
            self._updates.append(replace(order))
            return "canceled"

    def add_order(self, order: SimOrder) -> None:
        with self._lock:
            book = self._book(order.account)
            if order.client_order_id in book.by_client:
                raise DuplicateClientOrderId(order.client_order_id)
            book.add(replace(order, symbol=order_symbol(order.symbol)))

    def fill(self, order: SimOrder, price: float, now: datetime, fee_rate: float = 0.0,
             long_only: bool = False, share: float = 1.0) -> SimOrder:
        """Record `order` as filled at `price` and move the account's position; return the stored copy.

        A buy's `fee_rate` is paid in the asset (the position grows by less than the order's quantity); with
        `long_only` a sell of more than is held raises InsufficientBalance and changes nothing. A `share`
        below 1 fills that part only: the order stays working, ``partially_filled``."""
        qty = order.qty * share
        signed = qty * (1.0 - fee_rate) if order.side == "buy" else -qty
        status = "filled" if share >= 1.0 else "partially_filled"
        filled = replace(order, symbol=order_symbol(order.symbol), status=status, filled_qty=qty,
                         filled_avg_price=price, filled_at=now if share >= 1.0 else None, updated_at=now)
        with self._lock:
            book = self._book(order.account)
            if filled.client_order_id in book.by_client:
                raise DuplicateClientOrderId(filled.client_order_id)
            held = book.positions.get(position_key(order.symbol))
            available = held.qty if held else 0.0
            if long_only and order.side == "sell" and qty > available + 1e-12:
                raise InsufficientBalance(filled.symbol, qty, available)
            book.add(filled)
            self._move(book, order.symbol, signed, price)
        return replace(filled)

    def liquidate(self, account: str, symbol: str, price: float, now: datetime,
                  qty: float | None = None) -> SimOrder | None:
        """Close the position in `symbol` (all of it, or `qty`) with a filled market order; None when flat.

        Raise InsufficientBalance when `qty` is more than is held."""
        with self._lock:
            book = self._book(account)
            position = book.positions.get(position_key(symbol))
            if position is None:
                return None
            amount = abs(position.qty) if qty is None else qty
            if amount > abs(position.qty) + 1e-12:
                raise InsufficientBalance(order_symbol(symbol), amount, abs(position.qty))
            side = "sell" if position.qty > 0 else "buy"
            order = SimOrder(
                id=new_order_id(), client_order_id=new_order_id(), account=account, symbol=order_symbol(symbol),
                side=side, qty=amount, status="filled", created_at=now, updated_at=now, filled_qty=amount,
                filled_avg_price=price, filled_at=now,
            )
            book.add(order)
            self._move(book, symbol, -amount if side == "sell" else amount, price)
            return replace(order)

    def adjust_position(self, account: str, symbol: str, delta: float, price: float) -> float:
        """Move a position by a signed quantity without an order (a fault); return the new quantity."""
        with self._lock:
            return self._move(self._book(account), symbol, delta, price)

    @staticmethod
    def _move(book: AccountBook, symbol: str, delta: float, price: float) -> float:
        key = position_key(symbol)
        moved = _moved(book.positions.get(key), key, delta, price)
        if moved is None:
            book.positions.pop(key, None)
            return 0.0
        book.positions[key] = moved
        return moved.qty

    def drain_updates(self) -> list[SimOrder]:
        """Take the order changes not yet delivered to the bot (its order-update stream)."""
        with self._lock:
            updates, self._updates = self._updates, []
        return updates
