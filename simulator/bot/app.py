"""The trading bot's own HTTP API (`bytelyst-trading-bot-service`): health, /api/*, /ws and admin hooks."""

from __future__ import annotations

import hmac
from typing import Any

from flask import Flask, Response, jsonify, request
from sqlalchemy.exc import SQLAlchemyError

from simulator.bot.auth import bearer_token, log_access, reject, verify_request
from simulator.bot.reconcile import reconcile
from simulator.bot.store import backlog, status_summary
from simulator.bot.trade import register_trade
from simulator.faults.options import BotDegradedOptions, BrokerOutageOptions, SupabaseOutageOptions
from simulator.responses import json_error
from simulator.world import Simulator

STALE_BACKLOG_LIMIT = 20


HEALTH_CHECKS = ("database", "broker", "supabase", "stale_backlog", "order_sync")


def health_report(world: Simulator) -> dict[str, Any]:
    """What /health and /health/ready show: backlog counts, the degraded fields, and every check by name."""
    degraded: list[str] = []
    failed: set[str] = set()
    stale = quarantined = 0
    try:
        counts = backlog(world.engine, world.clock(), world.stale_after)
        stale, quarantined = counts.stale, counts.quarantined
    except SQLAlchemyError:
        degraded.append("database_unreachable")
        failed.add("database")
    outage = world.faults.get("broker-outage", BrokerOutageOptions)
    if outage is not None and outage.accounts is None and outage.share >= 1.0:
        degraded.append("broker_unreachable")
        failed.add("broker")
    supabase = world.faults.get("supabase-outage", SupabaseOutageOptions)
    if supabase is not None and supabase.mode == "down":
        degraded.append("supabase_unreachable")
        failed.add("supabase")
    if stale > STALE_BACKLOG_LIMIT:
        degraded.append("stale_backlog")
        failed.add("stale_backlog")
    bot_degraded = world.faults.get("bot-degraded", BotDegradedOptions)
    if bot_degraded is not None:
        degraded.extend(bot_degraded.field)
        failed.update(bot_degraded.field)
    checks = {name: "degraded" if name in failed else "ok" for name in sorted({*HEALTH_CHECKS, *failed})}
    return {"status": "degraded" if degraded else "ok", "stale_backlog": stale, "quarantined": quarantined,
            "degraded": degraded, "checks": checks}


def _health_routes(app: Flask, world: Simulator) -> None:
    @app.get("/health")
    def health() -> Response:
        return jsonify(health_report(world))

    @app.get("/health/live")
    def live() -> Response:
        return jsonify({"status": "live"})

    @app.get("/health/ready")
    def ready() -> Response:
        """503 while degraded, unless the bot-degraded fault makes it answer 200 (ready, but degraded)."""
        report = health_report(world)
        response = jsonify({**report, "status": "ready" if not report["degraded"] else "degraded"})
        fault = world.faults.get("bot-degraded", BotDegradedOptions)
        response.status_code = 503 if report["degraded"] and (fault is None or fault.ready_status == 503) else 200
        return response


def _client_routes(app: Flask, world: Simulator) -> None:
    @app.get("/api/status")
    def api_status() -> Response:
        token = bearer_token()
        verdict = verify_request(world, token)
        log_access(world, "api", verdict.status, verdict.reason, token=token)
        if not verdict.ok:
            return reject(verdict)
        claims = verdict.claims or {}
        return jsonify({"status": "ok", "user": claims.get("sub"), **status_summary(world.engine)})

    @app.get("/ws")
    def websocket_connect() -> Response:
        token = request.args.get("token") or bearer_token()
        verdict = verify_request(world, token)
        log_access(world, "websocket", verdict.status, verdict.reason, token=token)
        return jsonify({"accepted": True}) if verdict.ok else reject(verdict)


def startup_reconciliation(world: Simulator) -> dict[str, Any]:
    """Reconcile against the broker; accounts the broker does not answer for are left alone."""
    with world.mutation_lock:
        unreachable = world.faults.broker_outage_for
        world.pull()
        done = reconcile(world.engine, world.book, world.clock(), lambda a: unreachable(a) is not None).as_dict()
        world.publish()
        return done


def _admin_allowed(world: Simulator) -> bool:
    token = bearer_token() or ""
    return hmac.compare_digest(token.encode(), world.secrets.service_role_key.encode())


def _admin_routes(app: Flask, world: Simulator) -> None:
    @app.before_request
    def admin_auth() -> Response | None:
        if request.path.startswith("/admin/") and not _admin_allowed(world):
            return json_error(401, {"error": "service role key required"})
        return None

    @app.post("/admin/reconcile")
    def admin_reconcile() -> Response:
        return jsonify(startup_reconciliation(world))

    @app.post("/admin/restart")
    def admin_restart() -> Response:
        with world.mutation_lock:
            reloaded = world.faults.auth_broken_for_all()
            if reloaded:
                world.faults.deactivate("auth-failures")
            body: dict[str, Any] = {"restarted": True, "auth_key_reloaded": reloaded}
            if request.args.get("reconcile", "").lower() in ("1", "true", "yes"):
                body["reconciliation"] = startup_reconciliation(world)
        return jsonify(body)


def _unrouted(app: Flask, world: Simulator) -> None:
    """Unknown /api/* paths and wrong methods are requests too: they go to the access log."""

    def logged(status: int, reason: str) -> Response:
        if request.path.startswith("/api/") or request.path == "/ws":
            channel = "websocket" if request.path == "/ws" else "api"
            log_access(world, channel, status, reason)
        return json_error(status, {"error": reason})

    @app.errorhandler(404)
    def not_found(_error: Exception) -> Response:
        return logged(404, "not_found")

    @app.errorhandler(405)
    def not_allowed(_error: Exception) -> Response:
        return logged(405, "method_not_allowed")


def create_bot_app(world: Simulator) -> Flask:
    app = Flask("simulator.bot")
    _unrouted(app, world)
    _health_routes(app, world)
    _client_routes(app, world)
    register_trade(app, world)
    _admin_routes(app, world)
    return app
