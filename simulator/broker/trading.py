"""Order requests: validation (shared by the broker and the bot) and execution at the simulated broker."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from simulator.broker.book import BrokerBook, SimOrder, new_order_id, order_symbol
from simulator.broker.market import CRYPTO_FEE_RATE, crypto_asset, price_of

SYMBOL = re.compile(r"^[A-Z][A-Z0-9.]{0,9}(/[A-Z0-9]{2,6})?$")  # a ticker, or a crypto pair such as BTC/USD
CRYPTO_TIMES_IN_FORCE = ("gtc", "ioc")
SIDES = ("buy", "sell")
ORDER_TYPES = ("market", "limit", "stop", "stop_limit")
TIMES_IN_FORCE = ("day", "gtc", "ioc", "fok", "opg", "cls")


class InvalidOrder(ValueError):
    """An order request that fails validation; `problems` names each bad field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class OrderRequest:
    symbol: str
    qty: float
    side: str
    order_type: str
    time_in_force: str
    limit_price: float | None = None
    client_order_id: str | None = None


def _positive(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 and number == number and number != float("inf") else None


def parse_order_request(body: Any) -> OrderRequest:
    """Validate an Alpaca-style order body; raise InvalidOrder listing every problem."""
    if not isinstance(body, dict):
        raise InvalidOrder(["body: expected a JSON object"])
    problems: list[str] = []
    symbol, side = body.get("symbol"), body.get("side")
    order_type, tif = body.get("type", "market"), body.get("time_in_force", "day")
    qty = _positive(body.get("qty"))
    limit = _positive(body.get("limit_price")) if body.get("limit_price") is not None else None
    if not isinstance(symbol, str) or not SYMBOL.match(symbol):
        problems.append("symbol: must be an upper-case ticker or crypto pair")
    if qty is None:
        problems.append("qty: must be a number greater than 0")
    if side not in SIDES:
        problems.append("side: must be buy or sell")
    if order_type not in ORDER_TYPES:
        problems.append(f"type: must be one of {', '.join(ORDER_TYPES)}")
    if tif not in TIMES_IN_FORCE:
        problems.append(f"time_in_force: must be one of {', '.join(TIMES_IN_FORCE)}")
    if order_type in ("limit", "stop_limit") and limit is None:
        problems.append("limit_price: required (> 0) for limit orders")
    client_id = body.get("client_order_id")
    if client_id is not None and (not isinstance(client_id, str) or not 0 < len(client_id) <= 128):
        problems.append("client_order_id: must be a string of at most 128 characters")
    if problems:
        raise InvalidOrder(problems)
    return OrderRequest(str(symbol), float(qty or 0), str(side), str(order_type), str(tif), limit, client_id)


def _marketable(request: OrderRequest, price: float) -> bool:
    if request.order_type == "market":
        return True
    if request.order_type != "limit" or request.limit_price is None:
        return False
    return request.limit_price >= price if request.side == "buy" else request.limit_price <= price


def check_crypto(request: OrderRequest) -> None:
    """Alpaca's rules for a crypto order: gtc or ioc, at least min_order_size. Raise InvalidOrder."""
    asset = crypto_asset(request.symbol)
    if asset is None:
        return
    problems = []
    if request.time_in_force not in CRYPTO_TIMES_IN_FORCE:
        problems.append(f"time_in_force: crypto orders take {' or '.join(CRYPTO_TIMES_IN_FORCE)}")
    if request.qty < asset.min_order_size - 1e-12:
        problems.append(f"qty: must be at least the asset's min_order_size {asset.min_order_size:g}")
    if problems:
        raise InvalidOrder(problems)


def place_order(book: BrokerBook, account: str, request: OrderRequest, now: datetime) -> SimOrder:
    """Execute at the simulated market: marketable orders fill at once, IOC/FOK remainders cancel,
    the rest rest as ``new``. Raise DuplicateClientOrderId on a reused client order id, InvalidOrder on a
    crypto order Alpaca refuses, InsufficientBalance on a crypto sell of more than is held (long only).

    A crypto buy pays its fee in the asset: the position grows by less than the order's filled quantity."""
    check_crypto(request)
    price = price_of(request.symbol)
    order = SimOrder(
        id=new_order_id(), client_order_id=request.client_order_id or new_order_id(), account=account,
        symbol=order_symbol(request.symbol), side=request.side, qty=request.qty, status="new", created_at=now,
        updated_at=now, order_type=request.order_type, time_in_force=request.time_in_force,
        limit_price=request.limit_price,
    )
    if _marketable(request, price):
        crypto = crypto_asset(request.symbol) is not None
        return book.fill(order, price, now, fee_rate=CRYPTO_FEE_RATE if crypto else 0.0, long_only=crypto)
    if request.time_in_force in ("ioc", "fok"):
        order = replace(order, status="canceled", canceled_at=now)
    book.add_order(order)
    return order
