"""``GET /runbooks``: the incident runbooks as one HTML page, no login (the alerts' runbook links open here).

The page is rendered once at start (`responder.runbooks`); without ``responder.runbooks`` it answers 404."""

from __future__ import annotations

from flask import Blueprint, Response, current_app

from responder.runbooks import Runbooks
from responder.web.common import error

blueprint = Blueprint("runbooks", __name__)
EXTENSION = "responder.runbooks"
# the page's only style is its own <style>; nothing else loads, nothing runs
POLICY = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"


@blueprint.get("/runbooks")
def runbooks() -> Response | tuple[Response, int]:
    page: Runbooks | None = current_app.extensions.get(EXTENSION)
    if page is None:
        return error(404, "no runbooks are served here (responder.runbooks is not set)")
    response = Response(page.html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
