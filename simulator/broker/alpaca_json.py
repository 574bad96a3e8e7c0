"""Orders, positions and errors in Alpaca's JSON shape: numbers as strings, RFC 3339 timestamps."""

from __future__ import annotations

import uuid
from typing import Any

from simulator.broker.book import SimOrder, SimPosition
from simulator.timeutil import rfc3339

ASSET_NAMESPACE = uuid.UUID("6f1c2a52-3d2b-4b8e-9b5e-6f7b1f0a9c11")


def decimal(value: float | None) -> str | None:
    """Render a number the way Alpaca does: a string, no trailing ``.0`` for whole numbers."""
    if value is None:
        return None
    return str(int(value)) if float(value).is_integer() else f"{value:.6f}".rstrip("0").rstrip(".")


def asset_id(symbol: str) -> str:
    return str(uuid.uuid5(ASSET_NAMESPACE, symbol))


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
        "asset_class": "us_equity",
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
    return {
        "asset_id": asset_id(position.symbol),
        "symbol": position.symbol,
        "exchange": "NASDAQ",
        "asset_class": "us_equity",
        "asset_marginable": True,
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
