"""Liveness, readiness (ledger reachable, playbooks loaded), /metrics and the OpenAPI document."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from prometheus_client import CONTENT_TYPE_LATEST

from responder.ledger.store import ledger_writable
from responder.web.common import runtime
from responder.web.openapi import document

blueprint = Blueprint("health", __name__)


@blueprint.get("/health/live")
def live() -> Response:
    return jsonify({"status": "ok"})


@blueprint.get("/health/ready")
def ready() -> tuple[Response, int]:
    rt = runtime()
    checks = {"playbooks_loaded": len(rt.playbooks) > 0, "ledger_reachable": ledger_writable(rt.ledger)}
    ok = all(checks.values())
    return jsonify({"status": "ready" if ok else "not ready", "checks": checks, "mode": rt.settings.responder.mode}), (
        200 if ok else 503
    )


@blueprint.get("/metrics")
def metrics() -> Response:
    return Response(runtime().exposition.render(), mimetype=None, content_type=CONTENT_TYPE_LATEST)


@blueprint.get("/openapi.json")
def openapi() -> Response:
    return jsonify(document())
