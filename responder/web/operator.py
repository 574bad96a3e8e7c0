"""The operator API (``RESPONDER_OPERATOR_TOKEN``): approvals, runs, and re-enabling a profile.

Re-enabling checks position parity for the profile's broker account first (bot open positions summed
per symbol over the account's profiles vs the broker's): a mismatch refuses with 409 and the details;
an unreadable broker answers 503 and never enables.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, jsonify, request
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from common.db import write_transaction
from responder.actions.context import ActionError
from responder.actions.profiles import set_profile_status
from responder.ledger import queries, steps
from responder.ledger.schema import operator_actions
from responder.ledger.store import dumps
from responder.logs import log
from responder.parity import Parity, account_parity, profile_account
from responder.payload import describe_error
from responder.web.bodies import MAX_ID, DecisionBody, EnableBody, _Body
from responder.web.common import error, operator_allowed, runtime
from sources.botdb import PROFILE_ACTIVE, PROFILE_INACTIVE
from sources.broker import BrokerUnavailable

logger = logging.getLogger(__name__)
blueprint = Blueprint("operator", __name__)


@blueprint.before_request
def _authenticate() -> tuple[Response, int] | None:
    if not operator_allowed():
        return error(401, "missing or wrong operator bearer token")
    return None


def _body(model: type[_Body]) -> _Body | tuple[Response, int]:
    raw = request.get_json(silent=True)
    if not isinstance(raw, dict):
        return error(400, "expected a JSON object body")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        return error(400, describe_error(exc))


@blueprint.get("/approvals")
def list_approvals() -> Response:
    rt = runtime()
    waiting = queries.awaiting_approval(rt.ledger)
    registry = rt.services.registry
    items = [
        {
            "step_id": step.id,
            "run_id": step.run_id,
            "name": step.name,
            "action": step.action,
            "does": registry.get(step.action).summary if step.action in registry else None,
            "params": step.params,
            "reason": step.approval_reason,
            "alertname": alert.alertname,
            "labels": alert.labels,
            "fingerprint": alert.fingerprint,
            "summary": (step.output or {}).get("summary") if isinstance(step.output, dict) else None,
        }
        for step, alert in waiting
    ]
    return jsonify({"approvals": items})


@blueprint.post("/approvals/<int:step_id>")
def decide(step_id: int) -> tuple[Response, int]:
    body = _body(DecisionBody)
    if not isinstance(body, DecisionBody):
        return body  # type: ignore[return-value]
    if step_id > MAX_ID:
        return error(404, f"no step {step_id}")
    rt = runtime()
    approve = body.decision == "approve"
    result = steps.decide(rt.ledger, step_id, approve, body.by, body.reason, rt.clock())
    if not result.found or result.step is None:
        return error(404, f"no step {step_id}")
    if not result.applied:
        return error(409, "the step is not awaiting approval", state=result.step.state)
    if approve:
        rt.wakeup.notify()
    else:
        rt.metrics.steps.labels(result.step.action, "rejected").inc()
    log(logger, logging.INFO, "step decided", step_id=step_id, decision=body.decision, by=body.by)
    return jsonify({"step": result.step.as_dict()}), 200


RUNS_QUERY = frozenset({"limit", "alertname"})


@blueprint.get("/runs")
def list_runs() -> tuple[Response, int]:
    if any(name not in RUNS_QUERY or len(values) > 1 for name, values in request.args.lists()):
        return error(400, "the query takes limit and alertname, each at most once")
    raw_limit = request.args.get("limit", "50")
    alertname = request.args.get("alertname") or None
    if not (raw_limit.isascii() and raw_limit.isdigit() and len(raw_limit) <= 3) or not 1 <= int(raw_limit) <= 500:
        return error(400, "limit must be an integer from 1 to 500")
    if alertname is not None and (len(alertname) > 200 or "\x00" in alertname):
        return error(400, "alertname must have at most 200 characters and no NUL")
    views = queries.recent_runs(runtime().ledger, int(raw_limit), alertname)
    return jsonify({"runs": [view.as_dict() for view in views]}), 200


@blueprint.get("/runs/<int:run_id>")
def show_run(run_id: int) -> tuple[Response, int]:
    view = queries.run_view(runtime().ledger, run_id) if run_id <= MAX_ID else None
    if view is None:
        return error(404, f"no run {run_id}")
    return jsonify(view.as_dict()), 200


@blueprint.post("/profiles/<profile_id>/enable")
def enable_profile(profile_id: str) -> tuple[Response, int]:
    body = _body(EnableBody)
    if not isinstance(body, EnableBody):
        return body  # type: ignore[return-value]
    if len(profile_id) > 64 or "\x00" in profile_id:
        return error(404, "no such profile")
    rt = runtime()
    engine = rt.services.bot_engine
    found = profile_account(engine, profile_id)
    if found is None:
        return error(404, "no such profile")
    account, status = found
    if status == PROFILE_ACTIVE:
        return jsonify({"profile": profile_id, "result": "unchanged", "status": status}), 200
    try:
        parity = account_parity(engine, rt.services.broker(account), account)
    except (BrokerUnavailable, ActionError) as exc:
        _audit(profile_id, body, "broker_unreadable", {"error": str(exc)[:300]})
        return error(503, "the broker cannot be read: position parity unknown, the profile stays inactive")
    if not parity.ok:
        _audit(profile_id, body, "refused", parity.as_dict())
        return error(409, "positions do not match at the broker: the profile stays inactive", parity=parity.as_dict())
    return _enable(profile_id, body, parity)


def _enable(profile_id: str, body: _Body, parity: Parity) -> tuple[Response, int]:
    """Record who asks and why in the ledger, then enable (compare-and-set), then record the result."""
    rt = runtime()
    if not _audit(profile_id, body, "requested", parity.as_dict()):
        return error(503, "the ledger cannot record the operator action: the profile stays inactive")
    engine = rt.services.bot_engine
    changed, status = set_profile_status(engine, profile_id, PROFILE_INACTIVE, PROFILE_ACTIVE, rt.clock())
    if status != PROFILE_ACTIVE:
        _audit(profile_id, body, "no_effect", parity.as_dict())
        return error(502, "the update had no effect: the profile is still inactive (missing write rights?)")
    result = "enabled" if changed else "unchanged"
    _audit(profile_id, body, result, parity.as_dict())
    log(logger, logging.INFO, "profile re-enabled", profile=profile_id, by=body.by, result=result)
    return jsonify({"profile": profile_id, "result": result, "status": status, "parity": parity.as_dict()}), 200


def _audit(profile_id: str, body: _Body, result: str, detail: dict[str, Any]) -> bool:
    """Record an operator action on a profile; False (logged) when the ledger cannot be written."""
    rt = runtime()
    try:
        with write_transaction(rt.ledger) as conn:
            conn.execute(
                operator_actions.insert().values(
                    at=rt.clock(),
                    kind="enable_profile",
                    target=f"profile:{profile_id}",
                    by=body.by,
                    reason=body.reason,
                    result=result,
                    detail=dumps(detail),
                )
            )
    except SQLAlchemyError:
        log(logger, logging.WARNING, "could not record the operator action", profile=profile_id, result=result)
        return False
    return True
