"""POST /api/trade: authenticate, validate, check the profile, place at the broker, record in the bot DB."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify, request

from simulator.bot.auth import bearer_token, log_access, reject, verify_request
from simulator.bot.store import TradeProfile, record_trade, trade_profile
from simulator.broker.app import INSUFFICIENT_FUNDS
from simulator.broker.book import DuplicateClientOrderId, InsufficientBalance
from simulator.broker.trading import InvalidOrder, OrderRequest, parse_order_request, place_order
from simulator.responses import json_error
from simulator.world import Simulator


def _answer(world: Simulator, status: int, reason: str, body: dict[str, Any],
            error_code: int | None = None) -> Response:
    log_access(world, "api", status, reason, error_code=error_code)
    return json_error(status, body)


def _profile_for(world: Simulator, body: Any) -> TradeProfile | str:
    """The profile to trade for, or the reason there is none."""
    requested = body.get("profile_id") if isinstance(body, dict) else None
    if requested is not None and not isinstance(requested, str):
        return "invalid_profile"
    with world.mutation_lock:
        world.pull()  # the profile's enablement as others last wrote it
    profile = trade_profile(world.engine, requested)
    if profile is None:
        return "unknown_profile"
    return profile if profile.status == "active" else "profile_inactive"


def _execute(world: Simulator, profile: TradeProfile, order_request: OrderRequest) -> Response:
    """Place at the in-process broker, honouring its faults, and record what it accepted."""
    if world.faults.broker_outage_for(profile.account) is not None:
        return _answer(world, 503, "broker_unavailable", {"error": "broker_unavailable"})
    if world.faults.insufficient_funds():
        body = {"error": "insufficient_funds", "code": INSUFFICIENT_FUNDS, "message": "insufficient buying power"}
        return _answer(world, 403, "insufficient_funds", body, INSUFFICIENT_FUNDS)
    now = world.clock()
    try:
        order = place_order(world.book, profile.account, order_request, now)
    except DuplicateClientOrderId:
        return _answer(world, 422, "invalid_order", {"error": "invalid_order", "problems": ["client_order_id: reused"]})
    except InvalidOrder as exc:
        return _answer(world, 422, "invalid_order", {"error": "invalid_order", "problems": exc.problems})
    except InsufficientBalance as exc:
        body = {"error": "insufficient_funds", "code": INSUFFICIENT_FUNDS, "message": str(exc)}
        return _answer(world, 403, "insufficient_funds", body, INSUFFICIENT_FUNDS)
    bot_id = record_trade(world.engine, profile.id, order, now)
    log_access(world, "api", 200, "ok")
    return jsonify({"order": {"id": bot_id, "profile_id": profile.id, "client_order_id": order.client_order_id,
                              "broker_order_id": order.id, "symbol": order.symbol, "side": order.side,
                              "qty": order.qty, "status": order.status}})


def trade(world: Simulator) -> Response:
    if not world.faults.is_active("auth-bypass"):
        token = bearer_token()
        verdict = verify_request(world, token)
        if not verdict.ok:
            log_access(world, "api", verdict.status, verdict.reason, token=token)
            return reject(verdict)
    body = request.get_json(silent=True)
    try:
        order_request = parse_order_request(body)
    except InvalidOrder as exc:
        return _answer(world, 422, "invalid_order", {"error": "invalid_order", "problems": exc.problems})
    profile = _profile_for(world, body)
    if isinstance(profile, str):
        status = 409 if profile == "profile_inactive" else 422
        return _answer(world, status, profile, {"error": profile})
    return _execute(world, profile, order_request)


def register_trade(app: Flask, world: Simulator) -> None:
    @app.post("/api/trade")
    def api_trade() -> Response:
        return trade(world)
