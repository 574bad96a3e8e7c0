"""Orders, positions and errors in Alpaca's JSON shape: numbers as strings, RFC 3339 timestamps."""

from __future__ import annotations

import uuid
from typing import Any

from simulator.broker.book import SimOrder, SimPosition
from simulator.broker.market import crypto_asset
from simulator.timeutil import rfc3339
from sources.instruments import instrument

ASSET_NAMESPACE = uuid.UUID("6f1c2a52-3d2b-4b8e-9b5e-6f7b1f0a9c11")


def decimal(value: float | None) -> str | None:
    """Render a number the way Alpaca does: a string, no trailing ``.0`` for whole numbers."""
    if value is None:
        return None
    return str(int(value)) if float(value).is_integer() else f"{value:.9f}".rstrip("0").rstrip(".")


def asset_id(symbol: str) -> str:
    return str(uuid.uuid5(ASSET_NAMESPACE, instrument(symbol).symbol))


def asset_class(symbol: str) -> str:
    return "crypto" if instrument(symbol).crypto else "us_equity"


def asset_json(symbol: str) -> dict[str, Any]:
    """GET /v2/assets/{symbol}: a crypto pair carries its trading rules, an equity does not."""
    found = instrument(symbol)
    body: dict[str, Any] = {
        "id": asset_id(found.symbol), "class": asset_class(found.symbol),
        "exchange": "CRYPTO" if found.crypto else "NASDAQ", "symbol": found.symbol, "name": found.symbol,
        "status": "active", "tradable": True, "marginable": not found.crypto, "shortable": not found.crypto,
        "easy_to_borrow": not found.crypto, "fractionable": True,
    }
    rules = crypto_asset(found)
    if rules is not None:
        body.update(min_order_size=decimal(rules.min_order_size),
                    min_trade_increment=decimal(rules.min_trade_increment),
                    price_increment=decimal(rules.price_increment))
    return body


def order_json(order: SimOrder) -> dict[str, Any]:
    return {
        "id": order.id,
        "client_order_id": order.client_order_id,
        "created_at": rfc3339(order.created_at),
        "updated_at": rfc3339(order.updated_at),
        "submitted_at": rfc3339(order.created_at),
        "filled_at": rfc3339(order.filled_at),
        "expired_at": rfc3339(order.expired_at),
        "canceled_at": rfc3339(order.canceled_at),
        "failed_at": rfc3339(order.failed_at),
        "replaced_at": None,
        "replaced_by": None,
        "replaces": None,
        "asset_id": asset_id(order.symbol),
        "symbol": order.symbol,
        "asset_class": asset_class(order.symbol),
        "notional": None,
        "qty": decimal(order.qty),
        "filled_qty": decimal(order.filled_qty),
        "filled_avg_price": decimal(order.filled_avg_price),
        "order_class": "",
        "order_type": order.order_type,
        "type": order.order_type,
        "side": order.side,
        "time_in_force": order.time_in_force,
        "limit_price": decimal(order.limit_price),
        "stop_price": None,
        "status": order.status,
        "extended_hours": False,
        "legs": None,
        "trail_percent": None,
        "trail_price": None,
        "hwm": None,
    }


def position_json(position: SimPosition, current_price: float) -> dict[str, Any]:
    qty = position.qty
    market_value = qty * current_price
    cost_basis = qty * position.avg_entry_price
    unrealized = market_value - cost_basis
    plpc = unrealized / abs(cost_basis) if cost_basis else 0.0
    crypto = instrument(position.symbol).crypto
    return {
        "asset_id": asset_id(position.symbol),
        "symbol": position.symbol,
        "exchange": "CRYPTO" if crypto else "NASDAQ",
        "asset_class": asset_class(position.symbol),
        "asset_marginable": not crypto,
        "qty": decimal(qty),
        "qty_available": decimal(qty),
        "avg_entry_price": decimal(round(position.avg_entry_price, 6)),
        "side": "short" if qty < 0 else "long",
        "market_value": decimal(round(market_value, 6)),
        "cost_basis": decimal(round(cost_basis, 6)),
        "unrealized_pl": decimal(round(unrealized, 6)),
        "unrealized_plpc": decimal(round(plpc, 6)),
        "unrealized_intraday_pl": decimal(round(unrealized, 6)),
        "unrealized_intraday_plpc": decimal(round(plpc, 6)),
        "current_price": decimal(current_price),
        "lastday_price": decimal(current_price),
        "change_today": "0",
    }


def error_json(code: int, message: str) -> dict[str, Any]:
    return {"code": code, "message": message}
