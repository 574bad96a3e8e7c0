"""What every blueprint shares: the runtime attached to the app, bearer-token checks, JSON errors."""

from __future__ import annotations

import hmac
from typing import Any, cast

from flask import Response, current_app, jsonify, request

from responder.runtime import Runtime

EXTENSION = "responder"


def runtime() -> Runtime:
    return cast(Runtime, current_app.extensions[EXTENSION])


def bearer_matches(expected: str | None) -> bool:
    """Constant-time check of ``Authorization: Bearer <token>``; False when no token is configured."""
    if not expected:
        return False
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given:
        return False
    return hmac.compare_digest(given.strip().encode("utf-8"), expected.encode("utf-8"))


def operator_allowed() -> bool:
    rt = runtime()
    if rt.settings.insecure_local and not rt.settings.secrets.operator_token:
        return True
    return bearer_matches(rt.settings.secrets.operator_token)


def error(status: int, message: str, **extra: Any) -> tuple[Response, int]:
    response = jsonify({"error": message, **extra})
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="responder"'
    return response, status
