"""The operator API (``RESPONDER_OPERATOR_TOKEN``): approvals, runs, re-enabling a profile, the kill switch.

The workflows themselves are `responder.operations` (shared with the console, Slack and the CLI); this
module maps their results onto HTTP: a two-person step's first approval is 202, a mismatch of positions
on re-enable is 409 with the details, an unreadable broker 503 (never enables).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, jsonify, request
from pydantic import ValidationError

from responder.killswitch import Refused
from responder.ledger import queries
from responder.payload import describe_error
from responder.states import Decision
from responder.web.bodies import MAX_ID, DecisionBody, EnableBody, KillSwitchBody, _Body
from responder.web.common import error, operator_allowed, runtime

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
    items = [
        {
            "step_id": item.step.id,
            "run_id": item.step.run_id,
            "name": item.step.name,
            "action": item.step.action,
            "does": item.does,
            "params": item.step.params,
            "reason": item.step.approval_reason,
            "two_person": item.step.two_person,
            "approved_by": list(item.approvers),
            "approvals_needed": item.needed,
            "awaiting_since": item.step.awaiting_since.isoformat() if item.step.awaiting_since else None,
            "alertname": item.alert.alertname,
            "labels": item.alert.labels,
            "fingerprint": item.alert.fingerprint,
            "summary": item.evidence.summary,
            "evidence": item.evidence.as_dict(),
        }
        for item in runtime().operations.queue()
    ]
    return jsonify({"approvals": items})


DECISION_STATUS = {"approved": 200, "first_approval": 202, "restarted": 202, "rejected": 200}


@blueprint.post("/approvals/<int:step_id>")
def decide(step_id: int) -> tuple[Response, int]:
    body = _body(DecisionBody)
    if not isinstance(body, DecisionBody):
        return body  # type: ignore[return-value]
    if step_id > MAX_ID:
        return error(404, f"no step {step_id}")
    outcome = runtime().operations.decide(step_id, body.by, Decision(body.decision), body.reason, "api")
    if outcome == "reason_required":
        return error(400, "a rejection needs a reason")
    if outcome == "evidence_unavailable":
        return error(503, "what the step would do cannot be read now (broker?): not approved; retry")
    if outcome.result == "not_found" or outcome.step is None:
        return error(404, f"no step {step_id}")
    if outcome.result == "not_waiting":
        return error(409, "the step is not awaiting approval", state=outcome.step.state)
    if outcome.result == "already_decided":
        return error(409, f"{body.by} already decided on this step", approved_by=list(outcome.approvers))
    body_out = {"result": outcome.result, "approved_by": list(outcome.approvers), "step": outcome.step.as_dict()}
    return jsonify(body_out), DECISION_STATUS[outcome.result]


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


ENABLE_ERRORS = {
    "not_found": (404, "no such profile"),
    "broker_unreadable": (503, "the broker cannot be read: position parity unknown, the profile stays inactive"),
    "refused": (409, "positions do not match at the broker: the profile stays inactive"),
    "kill_switch_running": (409, "a kill switch level covering the profile is still running or waiting for "
                                 "approval: finish or reject it first; the profile stays inactive"),
    "ledger_unavailable": (503, "the ledger cannot record the operator action: the profile stays inactive"),
    "no_effect": (502, "the update had no effect: the profile is still inactive (missing write rights?)"),
}


@blueprint.post("/profiles/<profile_id>/enable")
def enable_profile(profile_id: str) -> tuple[Response, int]:
    body = _body(EnableBody)
    if not isinstance(body, EnableBody):
        return body  # type: ignore[return-value]
    if len(profile_id) > 64 or "\x00" in profile_id:
        return error(404, "no such profile")
    done = runtime().operations.enable_profile(profile_id, body.by, body.reason, "api")
    parity = done.parity.as_dict() if done.parity else None
    if done.result in ENABLE_ERRORS:
        status, message = ENABLE_ERRORS[done.result]
        extra = {"parity": parity} if done.result == "refused" else {}
        return error(status, message, **extra)
    answer: dict[str, Any] = {"profile": profile_id, "result": done.result, "status": done.status}
    if parity is not None:
        answer["parity"] = parity
    return jsonify(answer), 200


@blueprint.get("/kill-switch")
def kill_switch_state() -> Response:
    switch = runtime().operations.kill_switch
    return jsonify({"in_force": [e.as_dict() for e in switch.in_force()],
                    "recent": [e.as_dict() for e in switch.recent()]})


KILL_SWITCH_ERRORS = {"unknown_level": 400, "unknown_profiles": 404, "no_profiles": 409, "mode_off": 409}


@blueprint.post("/kill-switch")
def engage_kill_switch() -> tuple[Response, int]:
    """Engage a level: 201 with its run; 200 with the engagement already in force (nothing new runs)."""
    body = _body(KillSwitchBody)
    if not isinstance(body, KillSwitchBody):
        return body  # type: ignore[return-value]
    engaged = runtime().operations.engage_kill_switch(body.level, body.profiles or None, body.by, body.reason, "api")
    if isinstance(engaged, Refused):
        return error(KILL_SWITCH_ERRORS[engaged.result], engaged.detail)
    answer = {"result": engaged.result, "engagement": engaged.engagement.as_dict()}
    return jsonify(answer), 201 if engaged.result == "engaged" else 200
