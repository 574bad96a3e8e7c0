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
from collections.abc import Callable
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import requests

from sources.assets import BrokerAsset, parse_asset
from sources.broker_errors import (
    INSUFFICIENT_FUNDS_CODE,
    NOT_FOUND_CODE,
    BrokerError,
    BrokerRejected,
    BrokerUnavailable,
    OrderMissing,
    UnavailableKind,
    raise_for_status,
)
from sources.broker_records import (
    TERMINAL_ORDER_STATUSES,
    WORKING_ORDER_STATUSES,
    BrokerOrder,
    BrokerPosition,
    OrderToPlace,
    Placed,
    format_quantity,
    parse_order,
    parse_position,
    parse_timestamp,
    parsed_answer,
)
from sources.fields import required
from sources.instruments import Instrument, instrument

__all__ = [
    "INSUFFICIENT_FUNDS_CODE",
    "NOT_FOUND_CODE",
    "TERMINAL_ORDER_STATUSES",
    "WORKING_ORDER_STATUSES",
    "BrokerClient",
    "BrokerError",
    "BrokerOrder",
    "BrokerPosition",
    "BrokerRejected",
    "BrokerUnavailable",
    "OrderMissing",
    "OrderToPlace",
    "Placed",
    "UnavailableKind",
    "format_quantity",
    "parse_order",
    "parse_position",
    "parse_timestamp",
]
T = TypeVar("T")

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
        return [parsed_answer(parse, item, path) for item in body]

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
        return parsed_answer(parse, body, path)

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
        raise_for_status(response, method, path)
        return response

    def _note_server_time(self, response: requests.Response) -> None:
        date = response.headers.get("Date")
        if date:
            with contextlib.suppress(TypeError, ValueError):
                self.last_server_time = parsedate_to_datetime(date)
