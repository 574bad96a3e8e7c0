"""A client for the subset of Alpaca's Trading API the runbook needs, on `requests` with timeouts.

The distinction that matters for incident response is between a *definite* answer and *no* answer:

- `OrderMissing` — the broker answered 404 with Alpaca's not-found code 40410000: it does not know the
  order (quarantine candidate), or, for a position, the account is flat. A 404 without that JSON code (an
  HTML page from a proxy, a wrong base URL) is `BrokerUnavailable("bad_response")`, never "missing".
- `BrokerUnavailable` — timeout, connection/DNS failure, 5xx, 429, 401 or an unreadable body (not JSON,
  a missing field, a number that is not finite): we know nothing, so nothing may be concluded (no
  "flat", no "missing", no ghost, no all-clear).
- `BrokerRejected` — the broker understood and refused (403 40310000 insufficient funds, 422 ...);
  that is a trading outcome, never an authentication failure.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal, TypeVar

import requests

from sources.assets import BrokerAsset, parse_asset
from sources.fields import number, required
from sources.instruments import Instrument, instrument

INSUFFICIENT_FUNDS_CODE = 40310000
NOT_FOUND_CODE = 40410000  # Alpaca's JSON 404: unknown order, or no position in the symbol

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

UnavailableKind = Literal["timeout", "connection", "server_error", "rate_limited", "unauthorized", "bad_response"]


class BrokerError(Exception):
    """Base of every broker client error."""


class BrokerUnavailable(BrokerError):
    """The broker gave no usable answer; nothing can be concluded from this call."""

    def __init__(self, kind: UnavailableKind, detail: str, status: int | None = None) -> None:
        super().__init__(f"broker unavailable ({kind}): {detail}")
        self.kind = kind
        self.status = status


class OrderMissing(BrokerError):
    """The broker answered 404 with code 40410000: it does not know this order (or holds no such position)."""


class BrokerRejected(BrokerError):
    """The broker understood the request and refused it (e.g. 403 insufficient funds, 422)."""

    def __init__(self, status: int, code: int | None, message: str) -> None:
        super().__init__(f"broker rejected the request ({status}, code {code}): {message}")
        self.status = status
        self.code = code
        self.message = message

    @property
    def insufficient_funds(self) -> bool:
        return self.status == 403 and self.code == INSUFFICIENT_FUNDS_CODE


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


def _parsed(parse: Callable[[dict[str, Any]], T], raw: dict[str, Any], path: str) -> T:
    """Parse a broker object; an unusable one is no answer (bad_response), never a crash."""
    try:
        return parse(raw)
    except ValueError as exc:
        raise BrokerUnavailable("bad_response", f"{path}: {exc}") from None


class BrokerClient:
    """Read and cancel through one broker account's API keys; every call has a timeout."""

    def __init__(
        self,
        base_url: str,
        key_id: str,
        secret: str,
        session: requests.Session,
        timeout: tuple[float, float] = (1.0, 2.0),
    ) -> None:
        self._base = base_url.rstrip("/")
        self._headers = {"APCA-API-KEY-ID": key_id, "APCA-API-SECRET-KEY": secret}
        self._session = session
        self._timeout = timeout
        self.last_server_time: datetime | None = None

    def account_status(self) -> str:
        """The account's status as the broker reports it (GET /v2/account), e.g. ``ACTIVE``."""
        return self._object(lambda raw: str(required(raw, "status")), "GET", "/v2/account")

    def list_positions(self) -> list[BrokerPosition]:
        """Return every open position (GET /v2/positions)."""
        return self._list(parse_position, "/v2/positions")

    def get_position(self, symbol: str | Instrument) -> BrokerPosition | None:
        """Return the open position in `symbol`, or None when the broker says it is flat (404 40410000).

        The path always carries the form Alpaca answers for (``BTCUSD``, never ``BTC/USD``, whose 404 says
        nothing about the position), so a 404 here really means flat."""
        try:
            return self._object(parse_position, "GET", f"/v2/positions/{instrument(symbol).position_symbol}")
        except OrderMissing:
            return None

    def get_asset(self, symbol: str | Instrument) -> BrokerAsset | None:
        """Return the asset (GET /v2/assets/{symbol}, the pair form for crypto), or None when it does not exist."""
        try:
            return self._object(parse_asset, "GET", f"/v2/assets/{instrument(symbol).symbol}")
        except OrderMissing:
            return None

    def list_orders(self, status: str = "open", limit: int = 500, symbols: str | None = None) -> list[BrokerOrder]:
        params: dict[str, Any] = {"status": status, "limit": min(limit, 500)}
        if symbols:
            params["symbols"] = symbols
        return self._list(parse_order, "/v2/orders", params)

    def get_order(self, order_id: str) -> BrokerOrder:
        """Return the order with the broker's id; raise OrderMissing on a definite 404."""
        return self._object(parse_order, "GET", f"/v2/orders/{order_id}")

    def get_order_by_client_id(self, client_order_id: str) -> BrokerOrder:
        """Return the order with the bot's client order id; raise OrderMissing on a definite 404."""
        params = {"client_order_id": client_order_id}
        return self._object(parse_order, "GET", "/v2/orders:by_client_order_id", params)

    def cancel_order(self, order_id: str) -> None:
        """Request cancellation (DELETE /v2/orders/{id}); 422 (not cancelable) raises BrokerRejected."""
        self._request("DELETE", f"/v2/orders/{order_id}")

    def close_position(self, symbol: str | Instrument, qty: float | None = None) -> BrokerOrder:
        """Liquidate the position in `symbol` at market (DELETE /v2/positions/{symbol}), all of it or `qty`."""
        params = {"qty": format_quantity(qty)} if qty is not None else None
        return self._object(parse_order, "DELETE", f"/v2/positions/{instrument(symbol).position_symbol}", params)

    def submit_order(self, order: OrderToPlace) -> BrokerOrder:
        """Place an order (POST /v2/orders) with its client order id; a reused id is refused (422)."""
        body = {
            "symbol": instrument(order.symbol).symbol, "qty": format_quantity(order.qty), "side": order.side,
            "type": "market", "time_in_force": order.time_in_force, "client_order_id": order.client_order_id,
        }
        return self._object(parse_order, "POST", "/v2/orders", json=body)

    def place_once(self, order: OrderToPlace) -> Placed:
        """Place `order` unless its client order id was already used: the broker refuses a repeated client
        order id (422), and the order placed under it is then looked up and returned as ``already_placed``.
        A 422 for any other reason (no order under that id) is re-raised as the refusal it is."""
        try:
            return Placed("placed", self.submit_order(order))
        except BrokerRejected as refused:
            if refused.status != 422:
                raise
            try:
                return Placed("already_placed", self.get_order_by_client_id(order.client_order_id))
            except OrderMissing:
                raise refused from None

    def _list(self, parse: Callable[[dict[str, Any]], T], path: str, params: dict[str, Any] | None = None) -> list[T]:
        """GET a JSON list and parse each object; anything unusable is no answer (bad_response)."""
        body = self._json(self._request("GET", path, params))
        if not isinstance(body, list) or not all(isinstance(item, dict) for item in body):
            raise BrokerUnavailable("bad_response", f"{path}: expected a JSON list of objects")
        return [_parsed(parse, item, path) for item in body]

    def _object(
        self,
        parse: Callable[[dict[str, Any]], T],
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
    ) -> T:
        """Call and parse the JSON object answered; anything unusable is no answer (bad_response)."""
        body = self._json(self._request(method, path, params, json))
        if not isinstance(body, dict):
            raise BrokerUnavailable("bad_response", f"{path}: expected a JSON object")
        return _parsed(parse, body, path)

    @staticmethod
    def _json(response: requests.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise BrokerUnavailable("bad_response", f"{response.url}: body is not JSON") from None

    def _request(
        self, method: str, path: str, params: dict[str, Any] | None = None, json: dict[str, Any] | None = None
    ) -> requests.Response:
        try:
            response = self._session.request(
                method, self._base + path, params=params, json=json, headers=self._headers, timeout=self._timeout
            )
        except requests.Timeout as exc:
            raise BrokerUnavailable("timeout", f"{method} {path}: {exc}") from None
        except requests.RequestException as exc:
            raise BrokerUnavailable("connection", f"{method} {path}: {type(exc).__name__}") from None
        self._note_server_time(response)
        _raise_for_status(response, method, path)
        return response

    def _note_server_time(self, response: requests.Response) -> None:
        date = response.headers.get("Date")
        if date:
            with contextlib.suppress(TypeError, ValueError):
                self.last_server_time = parsedate_to_datetime(date)


def _error_fields(response: requests.Response) -> tuple[int | None, str]:
    try:
        body = response.json()
    except ValueError:
        return None, response.text[:200]
    if isinstance(body, dict):
        code = body.get("code")
        return (code if isinstance(code, int) else None), str(body.get("message", ""))[:200]
    return None, ""


def _raise_for_status(response: requests.Response, method: str, path: str) -> None:
    status = response.status_code
    if status < 400:
        return
    code, message = _error_fields(response)
    where = f"{method} {path}"
    if status == 404 and code == NOT_FOUND_CODE:
        raise OrderMissing(f"{where}: not found (code {code})")
    if status == 404:
        detail = f"{where}: HTTP 404 without Alpaca's code {NOT_FOUND_CODE} (a proxy or a wrong base URL?)"
        raise BrokerUnavailable("bad_response", detail, status)
    if status == 401:
        raise BrokerUnavailable("unauthorized", f"{where}: API keys rejected (code {code})", status)
    if status == 429:
        reset = response.headers.get("X-Ratelimit-Reset", "?")
        raise BrokerUnavailable("rate_limited", f"{where}: rate limited, resets at {reset}", status)
    if status >= 500:
        raise BrokerUnavailable("server_error", f"{where}: HTTP {status}", status)
    raise BrokerRejected(status, code, message)
