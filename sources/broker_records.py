"""Alpaca's positions and orders as typed records, parsed at the edge; and the orders the responder places."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from sources.broker_errors import BrokerUnavailable
from sources.fields import number, required
from sources.instruments import Instrument, instrument

# Alpaca's order statuses (alpaca-py `OrderStatus`): the ones an order can still change from, and the end states.
WORKING_ORDER_STATUSES = (
    "new",
    "partially_filled",
    "accepted",
    "pending_new",
    "accepted_for_bidding",
    "pending_cancel",
    "pending_replace",
    "stopped",
    "suspended",
    "held",
    "pending_review",
)
TERMINAL_ORDER_STATUSES = ("filled", "canceled", "expired", "rejected", "replaced")

T = TypeVar("T")

@dataclass(frozen=True)
class BrokerPosition:
    symbol: str
    qty: float  # signed: negative when short
    avg_entry_price: float
    market_value: float
    current_price: float
    asset_class: str | None = None  # "us_equity", "crypto"; None when the broker does not say

    @property
    def instrument(self) -> Instrument:
        return instrument(self.symbol, self.asset_class)

    @property
    def side(self) -> str:
        return "short" if self.qty < 0 else "long"

    @property
    def notional(self) -> float:
        return abs(self.market_value) if self.market_value else abs(self.qty * self.current_price)


@dataclass(frozen=True)
class BrokerOrder:
    id: str
    client_order_id: str
    symbol: str
    side: str
    qty: float
    filled_qty: float
    status: str
    created_at: datetime | None
    updated_at: datetime | None


@dataclass(frozen=True)
class OrderToPlace:
    """A market order the responder places; `client_order_id` makes placing it idempotent at the broker."""

    symbol: str
    qty: float
    side: Literal["buy", "sell"]
    client_order_id: str
    time_in_force: Literal["day", "gtc"] = "day"


@dataclass(frozen=True)
class Placed:
    """The order under the client order id: placed now, or found placed by an earlier attempt."""

    result: Literal["placed", "already_placed"]
    order: BrokerOrder


def format_quantity(qty: float) -> str:
    """A quantity as Alpaca takes it: a decimal string with up to 9 places, no exponent."""
    return f"{qty:.9f}".rstrip("0").rstrip(".") or "0"


_FRACTION = re.compile(r"\.(\d{6})\d+")


def parse_timestamp(value: Any) -> datetime | None:
    """Parse Alpaca's RFC 3339 timestamps (nanosecond precision allowed) into aware UTC datetimes.

    Raise ValueError for anything else, including a time that cannot be expressed in UTC."""
    if not value:
        return None
    text = _FRACTION.sub(r".\1", str(value)).replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError, OSError):
        raise ValueError(f"not an RFC 3339 timestamp in range: {str(value)[:40]!r}") from None


def parse_position(raw: dict[str, Any]) -> BrokerPosition:
    """Parse one Alpaca position; raise ValueError naming the field that is missing or unusable."""
    qty = abs(number(raw, "qty", is_required=True))
    signed = -qty if str(raw.get("side", "long")) == "short" or str(raw["qty"]).startswith("-") else qty
    return BrokerPosition(
        symbol=str(required(raw, "symbol")),
        qty=signed,
        avg_entry_price=number(raw, "avg_entry_price"),
        market_value=number(raw, "market_value"),
        current_price=number(raw, "current_price"),
        asset_class=str(raw["asset_class"]) if raw.get("asset_class") else None,
    )


def parse_order(raw: dict[str, Any]) -> BrokerOrder:
    """Parse one Alpaca order; raise ValueError naming the field that is missing or unusable."""
    return BrokerOrder(
        id=str(required(raw, "id")),
        client_order_id=str(raw.get("client_order_id") or ""),
        symbol=str(required(raw, "symbol")),
        side=str(required(raw, "side")),
        qty=number(raw, "qty"),
        filled_qty=number(raw, "filled_qty"),
        status=str(required(raw, "status")),
        created_at=parse_timestamp(raw.get("created_at")),
        updated_at=parse_timestamp(raw.get("updated_at")),
    )


def parsed_answer(parse: Callable[[dict[str, Any]], T], raw: dict[str, Any], path: str) -> T:
    """Parse a broker object; an unusable one is no answer (bad_response), never a crash."""
    try:
        return parse(raw)
    except ValueError as exc:
        raise BrokerUnavailable("bad_response", f"{path}: {exc}") from None

