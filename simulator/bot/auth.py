"""Request helpers shared by the bot's routes: bearer tokens, verification, access-log lines, rejections."""

from __future__ import annotations

from flask import Response, g, request

from simulator.bot.accesslog import AccessRecord
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
    """Verify as the bot does, with the wrong key while a botched rotation is injected; an accepted request's
    user is remembered for its access-log line."""
    verdict = world.tokens.verify(token, world.clock(), broken_key=world.faults.auth_broken_for_all())
    if verdict.ok and verdict.claims:
        g.user = verdict.claims.get("sub")
    return verdict


def client_address() -> str:
    """The client's address as a proxy in front of the bot reports it (X-Forwarded-For), else the peer's."""
    forwarded = request.headers.get("X-Forwarded-For", "").split(",")[0].strip()
    return forwarded or request.remote_addr or ""


def log_access(world: Simulator, channel: str, status: int, reason: str, error_code: int | None = None,
               token: str | None = None) -> None:
    world.access_log.write(AccessRecord(
        channel, request.method, request.path, status, reason, error_code, token,
        request.headers.get("User-Agent", ""), g.get("user"), client_address(),
        int(request.environ.get("REMOTE_PORT") or 0),
    ))


def reject(verdict: Verdict) -> Response:
    response = json_error(verdict.status, {"error": verdict.reason})
    if verdict.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return response
