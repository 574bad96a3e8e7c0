"""Small real HTTP servers for tests: a Slack capture and a fake broker (served with tests.support.wsgi).

The fake broker answers the Alpaca subset `sources.broker.BrokerClient` uses, from in-memory state a
test sets up, and can fail on demand (5xx, 429, timeouts) to prove nothing is concluded from no answer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, jsonify, request


@dataclass
class SlackCapture:
    """An incoming webhook: `messages` are the notices' texts, `requests` the approval requests (with blocks)."""

    messages: list[str] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200

    def app(self) -> Flask:
        app = Flask("slack-capture")

        @app.post("/hook")
        def hook() -> tuple[str, int]:
            body = request.get_json(silent=True) or {}
            if body.get("blocks"):
                self.requests.append(body)
            else:
                self.messages.append(str(body.get("text", "")))
            return "ok", self.status

        return app


@dataclass
class FakeBroker:
    """In-memory broker state: positions {(key_id, symbol): (qty, price)}, orders by id; `fail` = failure mode."""

    positions: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    fail: str = ""
    fail_after_close: str = ""  # the failure mode every request gets once a position was closed
    calls: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)

    def add_order(self, key_id: str, order_id: str, client_order_id: str, status: str = "new") -> None:
        self.orders[order_id] = {
            "id": order_id, "client_order_id": client_order_id, "symbol": "AAPL", "side": "buy", "qty": "1",
            "filled_qty": "0", "status": status, "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z", "key": key_id,
        }

    def _failure(self) -> Response | None:
        if self.fail == "5xx":
            return _error(503, 50000000)
        if self.fail == "429":
            return _error(429, 42910000)
        if self.fail == "timeout":
            time.sleep(2.5)  # longer than the client's read timeout
            return _error(504, 50400000)
        return None

    def _submit(self, key: str, body: dict[str, Any]) -> Response:
        """A market order fills at once against the position (as Alpaca's paper market); a repeated client
        order id is refused with 422, as Alpaca does."""
        if any(o["client_order_id"] == body["client_order_id"] for o in self.orders.values()):
            return _error(422, 40010001)
        symbol, qty = str(body["symbol"]).replace("/", ""), float(body["qty"])
        held, price = self.positions.get((key, symbol), (0.0, 100.0))
        left = held - qty if body["side"] == "sell" else held + qty
        if abs(left) < 1e-9:
            self.positions.pop((key, symbol), None)
        else:
            self.positions[(key, symbol)] = (left, price)
        self.fail = self.fail_after_close
        order_id = f"close-{symbol}" if not any(o["id"] == f"close-{symbol}" for o in self.orders.values()) \
            else f"close-{symbol}-{len(self.orders)}"
        self.orders[order_id] = {
            "id": order_id, "client_order_id": body["client_order_id"], "symbol": symbol, "side": body["side"],
            "qty": str(qty), "filled_qty": str(qty), "status": "filled", "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z", "key": key,
        }
        return jsonify(self.orders[order_id])

    def app(self) -> Flask:
        app = Flask("fake-broker")

        @app.before_request
        def fault() -> Response | None:
            self.calls.append(f"{request.method} {request.path}")
            return self._failure()

        @app.get("/v2/positions")
        def positions() -> Response:
            key = request.headers.get("APCA-API-KEY-ID", "")
            return jsonify([_position(s, q, p) for (k, s), (q, p) in self.positions.items() if k == key])

        @app.route("/v2/positions/<symbol>", methods=["GET", "DELETE"])
        def position(symbol: str) -> Response:
            key = request.headers.get("APCA-API-KEY-ID", "")
            if (key, symbol) not in self.positions:
                return _error(404, 40410000)
            qty, price = self.positions[(key, symbol)]
            if request.method == "DELETE":
                del self.positions[(key, symbol)]
                self.fail = self.fail_after_close
                order = {"id": f"close-{symbol}", "client_order_id": f"close-{symbol}", "symbol": symbol,
                         "side": "sell" if qty > 0 else "buy", "qty": str(abs(qty)), "status": "accepted"}
                return jsonify(order)
            return jsonify(_position(symbol, qty, price))

        @app.get("/v2/orders")
        def list_orders() -> Response:
            return jsonify([o for o in self.orders.values() if o["key"] == request.headers.get("APCA-API-KEY-ID")])

        @app.post("/v2/orders")
        def submit() -> Response:
            return self._submit(request.headers.get("APCA-API-KEY-ID", ""), request.get_json(force=True))

        @app.get("/v2/orders:by_client_order_id")
        def by_client_id() -> Response:
            wanted = request.args.get("client_order_id")
            found = [o for o in self.orders.values() if o["client_order_id"] == wanted]
            return jsonify(found[0]) if found else _error(404, 40410000)

        @app.route("/v2/orders/<order_id>", methods=["GET", "DELETE"])
        def order(order_id: str) -> Response:
            if order_id not in self.orders:
                return _error(404, 40410000)
            if request.method == "DELETE":
                self.orders[order_id]["status"] = "pending_cancel"
                self.cancelled.append(order_id)
                return Response(status=204)
            return jsonify(self.orders[order_id])

        return app


def _position(symbol: str, qty: float, price: float) -> dict[str, Any]:
    return {"symbol": symbol, "qty": str(abs(qty)), "side": "long" if qty >= 0 else "short",
            "avg_entry_price": str(price), "market_value": str(qty * price), "current_price": str(price)}


def _error(status: int, code: int) -> Response:
    response = jsonify({"code": code, "message": "fake broker"})
    response.status_code = status
    return response
