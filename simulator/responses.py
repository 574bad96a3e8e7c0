"""The JSON error answer every simulated service gives."""

from __future__ import annotations

from flask import Response, jsonify


def json_error(status: int, body: dict[str, object]) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response
