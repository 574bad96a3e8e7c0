"""Request helpers shared by the bot's routes: bearer tokens, verification, access-log lines, rejections."""

from __future__ import annotations

from flask import Response, request

from simulator.responses import json_error
from simulator.supabase.tokens import Verdict
from simulator.world import Simulator


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def verify_request(world: Simulator, token: str | None) -> Verdict:
    """Verify as the bot does, with the wrong key while a botched rotation is injected."""
    return world.tokens.verify(token, world.clock(), broken_key=world.faults.auth_broken_for_all())


def log_access(world: Simulator, channel: str, status: int, reason: str, error_code: int | None = None,
               token: str | None = None) -> None:
    world.access_log.write(channel, request.method, request.path, status, reason, error_code, token,
                           request.headers.get("User-Agent", ""))


def reject(verdict: Verdict) -> Response:
    response = json_error(verdict.status, {"error": verdict.reason})
    if verdict.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return response
