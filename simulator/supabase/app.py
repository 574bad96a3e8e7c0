"""The Supabase auth (GoTrue) stand-in: health, password and refresh grants, and the admin user list."""

from __future__ import annotations

import hmac
import uuid
from typing import Any

from flask import Flask, Response, jsonify, request

from simulator.faults.options import SupabaseOutageOptions
from simulator.responses import json_error
from simulator.supabase.tokens import ACCESS_TOKEN_SECONDS, User
from simulator.world import Simulator

GOTRUE_VERSION = "v2.170.0"


def _same(presented: str, expected: str) -> bool:
    return hmac.compare_digest(presented.encode(), expected.encode())


def _api_key_problem(world: Simulator) -> Response | None:
    """GoTrue's gateway wants an anon or service-role key in ``apikey``."""
    key = request.headers.get("apikey", "")
    if not key:
        return json_error(401, {"message": "No API key found in request"})
    if not (_same(key, world.secrets.anon_key) or _same(key, world.secrets.service_role_key)):
        return json_error(401, {"message": "Invalid API key"})
    return None


def _session(world: Simulator, user: User, session_id: str) -> dict[str, Any]:
    now = world.clock()
    return {
        "access_token": world.tokens.issue(user, now, session_id),
        "token_type": "bearer",
        "expires_in": ACCESS_TOKEN_SECONDS,
        "expires_at": int(now.timestamp()) + ACCESS_TOKEN_SECONDS,
        "refresh_token": world.users.new_refresh_token(user, session_id),
        "user": user.public(),
    }


def _grant(world: Simulator, grant_type: str, body: dict[str, Any]) -> Response:
    invalid = json_error(400, {"error": "invalid_grant", "error_description": "Invalid login credentials"})
    if grant_type == "password":
        user = world.users.authenticate(str(body.get("email", "")), str(body.get("password", "")))
        return jsonify(_session(world, user, str(uuid.uuid4()))) if user else invalid
    if grant_type == "refresh_token":
        found = world.users.use_refresh_token(str(body.get("refresh_token", "")))
        if found is None:
            return json_error(400, {"error": "invalid_grant", "error_description": "Invalid Refresh Token"})
        return jsonify(_session(world, *found))
    return json_error(400, {"error": "unsupported_grant_type", "error_description": f"{grant_type!r}"})


def _outage(world: Simulator) -> SupabaseOutageOptions | None:
    return world.faults.get("supabase-outage", SupabaseOutageOptions)


def create_supabase_app(world: Simulator) -> Flask:
    app = Flask("simulator.supabase")

    @app.get("/auth/v1/health")
    def health() -> Response:
        outage = _outage(world)
        if outage is not None and outage.mode == "down":
            return json_error(503, {"message": "service unavailable"})
        return jsonify({"version": GOTRUE_VERSION, "name": "GoTrue", "description": "GoTrue is a user registration "
                        "and authentication API (simulated)"})

    @app.post("/auth/v1/token")
    def token() -> Response:
        outage = _outage(world)
        if outage is not None:
            status = 503 if outage.mode == "down" else 500
            return json_error(status, {"code": status, "error_code": "unexpected_failure",
                                       "msg": "token issuance failed"})
        problem = _api_key_problem(world)
        if problem is not None:
            return problem
        body = request.get_json(silent=True)
        return _grant(world, request.args.get("grant_type", ""), body if isinstance(body, dict) else {})

    @app.get("/auth/v1/admin/users")
    def admin_users() -> Response:
        key = request.headers.get("apikey", "")
        scheme, _, bearer = request.headers.get("Authorization", "").partition(" ")
        service = world.secrets.service_role_key
        if not (_same(key, service) and scheme.lower() == "bearer" and _same(bearer.strip(), service)):
            return json_error(401, {"code": 401, "error_code": "no_authorization",
                                    "msg": "This endpoint requires a valid service role key"})
        return jsonify({"users": [user.public() for user in world.users.all()], "aud": "authenticated"})

    return app
