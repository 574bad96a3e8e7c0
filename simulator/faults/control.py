"""The fault-injection control API: POST /faults/<kind>, GET /faults, POST /faults/reset, /settings."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify, request

from simulator.faults.inject import apply_fault, reset
from simulator.faults.options import KINDS, FaultError
from simulator.responses import json_error
from simulator.world import Simulator

SETTINGS = ("broker_latency_ms", "api_requests_per_second", "websocket_connects_per_second")


def _body() -> dict[str, Any] | None:
    if not request.get_data():
        return {}
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else None


def _apply_settings(world: Simulator, body: dict[str, Any]) -> str | None:
    """Validate then apply run-time settings; return a problem message or None."""
    for key, value in body.items():
        if key not in SETTINGS:
            return f"unknown setting {key!r} (known: {', '.join(SETTINGS)})"
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100_000:
            return f"{key}: expected a number between 0 and 100000"
    for key, value in body.items():
        setattr(world.settings, key, float(value))
    return None


def _settings_routes(app: Flask, world: Simulator) -> None:
    @app.get("/settings")
    def get_settings() -> Response:
        return jsonify(world.settings.as_dict())

    @app.post("/settings")
    def post_settings() -> Response:
        body = _body()
        if body is None:
            return json_error(400, {"error": "body must be a JSON object"})
        problem = _apply_settings(world, body)
        if problem:
            return json_error(400, {"error": problem})
        return jsonify(world.settings.as_dict())


def create_control_app(world: Simulator) -> Flask:
    app = Flask("simulator.control")

    @app.get("/health")
    def health() -> Response:
        return jsonify({"status": "ok"})

    @app.get("/faults")
    def list_faults() -> Response:
        return jsonify({"active": world.faults.describe(), "kinds": list(KINDS), "settings": world.settings.as_dict(),
                        "stuck_orders": sorted(world.faults.stuck_orders())})

    @app.post("/faults/reset")
    def reset_faults() -> Response:
        return jsonify(reset(world))

    @app.post("/faults/<kind>")
    def inject(kind: str) -> Response:
        body = _body()
        if body is None:
            return json_error(400, {"error": f"{kind}: options must be a JSON object"})
        try:
            return jsonify(apply_fault(world, kind, body))
        except FaultError as exc:
            return json_error(400, {"error": str(exc)})

    @app.get("/supabase/sign-ins")
    def sign_ins() -> Response:
        return jsonify({"sign_ins": world.users.sign_ins()})

    _settings_routes(app, world)
    return app
