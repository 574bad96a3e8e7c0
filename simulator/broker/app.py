"""The Alpaca Trading API subset the runbook needs, served from the in-memory broker book."""

from __future__ import annotations

import hmac
import time
import uuid
from typing import Any

from flask import Flask, Response, g, jsonify, request

from simulator.broker.alpaca_json import asset_json, error_json, order_json, position_json
from simulator.broker.book import DuplicateClientOrderId, InsufficientBalance
from simulator.broker.market import price_of
from simulator.broker.trading import SYMBOL, InvalidOrder, parse_order_request, place_order
from simulator.faults.options import BrokerOutageOptions
from simulator.timeutil import http_date
from simulator.world import Simulator
from sources.botdb import TERMINAL_STATUSES, WORKING_STATUSES

BAD_REQUEST = 40010001
UNAUTHORIZED = 40110000
INSUFFICIENT_FUNDS = 40310000
NOT_FOUND = 40410000
NOT_CANCELABLE = 42210000
RATE_LIMITED = 42910000
UNAVAILABLE = 50010000
STATUS_SETS = {"open": "working", "closed": "terminal", "all": None}


def alpaca_error(status: int, code: int, message: str, headers: dict[str, str] | None = None) -> Response:
    response = jsonify(error_json(code, message))
    response.status_code = status
    response.headers.update(headers or {})
    return response


def outage_response(world: Simulator, outage: BrokerOutageOptions) -> Response:
    """Answer as the broker does during the outage `outage` (connection drops happen in the server)."""
    if outage.mode == "timeout":
        world.stop.wait(outage.delay_seconds)
        return alpaca_error(504, UNAVAILABLE, "gateway timeout")
    if outage.mode == "429":
        reset = str(int(time.time()) + 60)
        headers = {"X-Ratelimit-Limit": "200", "X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": reset}
        return alpaca_error(429, RATE_LIMITED, "rate limit exceeded", headers)
    if outage.mode == "unauthorized":
        return alpaca_error(401, UNAUTHORIZED, "access key verification failed")
    if outage.mode == "malformed":
        return malformed_response()
    return alpaca_error(503, UNAVAILABLE, "service unavailable")


def malformed_response() -> Response:
    """A 200 whose JSON is unusable: a position without a symbol and one whose quantity is NaN."""
    return jsonify([{"qty": "5", "side": "long"}, {"symbol": "TSLA", "qty": "NaN", "side": "long"}])


def _gate(world: Simulator) -> Response | None:
    """Latency, outages and authentication for every broker request."""
    latency = world.settings.broker_latency_ms
    if latency > 0:
        world.stop.wait(latency / 1000)
    key_id = request.headers.get("APCA-API-KEY-ID", "")
    account = world.book.account_for_key(key_id)
    outage = world.faults.broker_outage_for(account)
    if outage is not None and outage.mode != "connection":
        return outage_response(world, outage)
    secret = request.headers.get("APCA-API-SECRET-KEY", "")
    expected = world.secrets.broker.for_key(key_id) or ""
    if account is None or not expected or not hmac.compare_digest(secret.encode(), expected.encode()):
        return alpaca_error(401, UNAUTHORIZED, "access key verification failed")
    g.account = account
    return None


def _valid_order_id(order_id: str) -> bool:
    try:
        uuid.UUID(order_id)
    except ValueError:
        return False
    return True


def _status_filter(value: str) -> frozenset[str] | None:
    group = STATUS_SETS[value]
    if group is None:
        return None
    return frozenset(WORKING_STATUSES if group == "working" else TERMINAL_STATUSES)


def _list_orders(world: Simulator) -> Response:
    status = request.args.get("status", "open")
    limit_text = request.args.get("limit", "50")
    if status not in STATUS_SETS:
        return alpaca_error(422, BAD_REQUEST, f"invalid status {status!r}")
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= 500:
        return alpaca_error(422, BAD_REQUEST, "limit must be between 1 and 500")
    symbols_arg = request.args.get("symbols")
    symbols = frozenset(s.strip() for s in symbols_arg.split(",") if s.strip()) if symbols_arg else None
    found = world.book.orders(g.account, _status_filter(status), symbols, int(limit_text))
    if request.args.get("direction") == "asc":
        found.reverse()
    return jsonify([order_json(order) for order in found])


def _submit(world: Simulator) -> Response:
    try:
        order_request = parse_order_request(request.get_json(silent=True))
    except InvalidOrder as exc:
        return alpaca_error(422, BAD_REQUEST, str(exc))
    if world.faults.insufficient_funds():
        return alpaca_error(403, INSUFFICIENT_FUNDS, "insufficient buying power")
    try:
        order = place_order(world.book, g.account, order_request, world.clock())
    except DuplicateClientOrderId:
        return alpaca_error(422, BAD_REQUEST, "client_order_id must be unique")
    except InvalidOrder as exc:
        return alpaca_error(422, BAD_REQUEST, str(exc))
    except InsufficientBalance as exc:
        return alpaca_error(403, INSUFFICIENT_FUNDS, str(exc))
    return jsonify(order_json(order))


def _order_routes(app: Flask, world: Simulator) -> None:
    @app.get("/v2/orders")
    def list_orders() -> Response:
        return _list_orders(world)

    @app.post("/v2/orders")
    def submit_order() -> Response:
        return _submit(world)

    @app.get("/v2/orders:by_client_order_id")
    def order_by_client_id() -> Response:
        client_id = request.args.get("client_order_id", "")
        if not client_id:
            return alpaca_error(422, BAD_REQUEST, "client_order_id is required")
        order = world.book.order_by_client_id(g.account, client_id)
        return jsonify(order_json(order)) if order else alpaca_error(404, NOT_FOUND, "order not found")

    @app.get("/v2/orders/<order_id>")
    def get_order(order_id: str) -> Response:
        if not _valid_order_id(order_id):
            return alpaca_error(422, BAD_REQUEST, "invalid order id")
        order = world.book.order(g.account, order_id)
        return jsonify(order_json(order)) if order else alpaca_error(404, NOT_FOUND, "order not found")

    @app.delete("/v2/orders/<order_id>")
    def cancel_order(order_id: str) -> Response:
        if not _valid_order_id(order_id):
            return alpaca_error(422, BAD_REQUEST, "invalid order id")
        outcome = world.book.cancel(g.account, order_id, world.clock())
        if outcome == "missing":
            return alpaca_error(404, NOT_FOUND, "order not found")
        if outcome == "not_cancelable":
            return alpaca_error(422, NOT_CANCELABLE, "order is not cancelable")
        return Response(status=204)


def _close(world: Simulator, symbol: str) -> Response:
    """DELETE /v2/positions/{symbol}[?qty=]: sell (or buy back) at market, all of it or `qty`."""
    qty_text = request.args.get("qty")
    qty = None
    if qty_text is not None:
        try:
            qty = float(qty_text)
        except ValueError:
            qty = -1.0
        if not 0 < qty < float("inf"):
            return alpaca_error(422, BAD_REQUEST, "qty must be a number greater than 0")
    try:
        order = world.book.liquidate(g.account, symbol, price_of(symbol), world.clock(), qty)
    except InsufficientBalance as exc:
        return alpaca_error(403, INSUFFICIENT_FUNDS, str(exc))
    if order is None:
        return alpaca_error(404, NOT_FOUND, "position does not exist")
    return jsonify(order_json(order))


def _position_routes(app: Flask, world: Simulator) -> None:
    @app.get("/v2/positions")
    def list_positions() -> Response:
        return jsonify([position_json(p, price_of(p.symbol)) for p in world.book.positions(g.account)])

    @app.get("/v2/positions/<symbol>")
    def get_position(symbol: str) -> Response:
        position = world.book.position(g.account, symbol)
        if position is None:
            return alpaca_error(404, NOT_FOUND, "position does not exist")
        return jsonify(position_json(position, price_of(symbol)))

    @app.route("/v2/positions/<base>/<quote>", methods=["GET", "DELETE"])
    def pair_position(base: str, quote: str) -> Response:
        """As Alpaca: a position path with the pair form (BTC/USD) finds nothing, even while BTCUSD is held."""
        return alpaca_error(404, NOT_FOUND, "position does not exist")

    @app.delete("/v2/positions/<symbol>")
    def close_position(symbol: str) -> Response:
        return _close(world, symbol)

    @app.get("/v2/assets/<path:symbol>")
    def asset(symbol: str) -> Response:
        if not SYMBOL.match(symbol.upper()):
            return alpaca_error(404, NOT_FOUND, "asset not found")
        return jsonify(asset_json(symbol))

    @app.get("/v2/account")
    def account() -> Response:
        return jsonify(_account_json(g.account))


def _account_json(account: str) -> dict[str, Any]:
    return {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, account)), "account_number": account, "status": "ACTIVE",
            "currency": "USD", "buying_power": "100000", "cash": "100000", "equity": "100000",
            "trading_blocked": False, "account_blocked": False}


def create_broker_app(world: Simulator) -> Flask:
    """The broker: every request needs an account's key id and the shared secret."""
    app = Flask("simulator.broker")

    @app.before_request
    def gate() -> Response | None:
        return _gate(world)

    @app.after_request
    def date_header(response: Response) -> Response:
        response.headers["Date"] = http_date(world.clock())
        return response

    @app.errorhandler(404)
    def not_found(_error: Exception) -> Response:
        return alpaca_error(404, NOT_FOUND, "endpoint not found")

    @app.errorhandler(405)
    def not_allowed(_error: Exception) -> Response:
        return alpaca_error(405, BAD_REQUEST, "method not allowed")

    _order_routes(app, world)
    _position_routes(app, world)
    return app
