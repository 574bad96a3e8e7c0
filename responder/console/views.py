"""``/console/``: the operators' console (server-rendered), login required, CSRF on every form.

Every decision goes through `responder.operations`, exactly as from the API, Slack and the CLI.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from werkzeug.wrappers import Response as BaseResponse

from responder.console import pages, session
from responder.console.identity import Operator
from responder.killswitch import Refused
from responder.ledger.killswitch import LEVELS
from responder.states import Decision, StepState
from responder.web.common import runtime

blueprint = Blueprint("console", __name__, url_prefix="/console", template_folder="templates")
OPEN_VIEWS = frozenset({"console.login", "console.static"})
MAX_REASON = 2000


@blueprint.before_request
def _require_operator() -> Any:
    rt = runtime()
    if not session.configured(rt):
        return render_template("console/unconfigured.html"), 503
    g.operator = session.current_operator(rt)
    if g.operator is None and request.endpoint not in OPEN_VIEWS:
        return redirect(url_for("console.login", next=request.full_path if request.method == "GET" else None))
    return None


@blueprint.after_request
def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = "default-src 'self'; style-src 'self' 'unsafe-inline'"
    return response


@blueprint.errorhandler(CSRFError)
def _csrf_refused(exc: CSRFError) -> tuple[str, int]:
    return render_template("console/error.html", message=f"Refused: {exc.description}"), 400


def _operator() -> Operator:
    operator: Operator = g.operator
    return operator


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/console/") and not target.startswith("//"):
        return target
    return url_for("console.incidents")


@blueprint.route("/login", methods=["GET", "POST"])
def login() -> Any:
    rt = runtime()
    if request.method == "GET":
        return render_template("console/login.html", next=request.args.get("next", ""))
    name = request.form.get("name", "")[:64]
    operator = rt.operators.check_password(name, request.form.get("password", "")[:1024])
    if operator is None:
        return render_template("console/login.html", next=request.form.get("next", ""),
                               error="Wrong operator name or password."), 401
    session.sign_in(rt, operator)
    return redirect(_safe_next(request.form.get("next")))


@blueprint.post("/logout")
def logout() -> BaseResponse:
    session.sign_out()
    return redirect(url_for("console.login"))


@blueprint.get("/")
def incidents() -> str:
    rt = runtime()
    rows = pages.incidents(rt.ledger, rt.clock())
    return render_template("console/incidents.html", rows=rows, waiting=len(rt.operations.queue()))


@blueprint.get("/incidents/<int:run_id>")
def incident(run_id: int) -> str:
    rt = runtime()
    found = pages.incident(rt.ledger, run_id, rt.services.registry)
    if found is None:
        abort(404)
    waiting = [item for item in rt.operations.queue() if item.step.run_id in {s.run_id for _, s in found.steps}]
    return render_template("console/incident.html", incident=found, waiting=waiting, tables=pages.tables,
                           StepState=StepState)


@blueprint.get("/approvals")
def approvals() -> str:
    return render_template("console/approvals.html", waiting=runtime().operations.queue())


DECISION_MESSAGES = {
    "approved": "Approved: the step runs now.",
    "first_approval": "Your approval is recorded; a second, different operator must approve too.",
    "restarted": "The state changed since the first approval: yours starts a new round; a second approval is needed.",
    "rejected": "Rejected: the step will not run.",
    "already_decided": "You already decided on this step.",
    "not_waiting": "The step is no longer awaiting approval.",
    "not_found": "No such step.",
    "evidence_unavailable": "What the step would do cannot be read now (broker?): not approved. Try again.",
    "reason_required": "A rejection needs a reason.",
}


@blueprint.post("/approvals/<int:step_id>")
def decide(step_id: int) -> BaseResponse:
    raw = request.form.get("decision", "")
    if raw not in (Decision.APPROVE, Decision.REJECT):
        abort(400)
    reason = request.form.get("reason", "").strip()[:MAX_REASON]
    outcome = runtime().operations.decide(step_id, _operator().name, Decision(raw), reason, "console")
    result = outcome if isinstance(outcome, str) else outcome.result
    good = result in ("approved", "first_approval", "restarted", "rejected")
    flash(f"Step {step_id}: {DECISION_MESSAGES[result]}", "ok" if good else "error")
    return redirect(_safe_next(request.form.get("next")))


@blueprint.get("/profiles")
def profiles() -> str:
    rt = runtime()
    return render_template("console/profiles.html", rows=pages.profile_rows(rt.services.bot, rt.ledger))


ENABLE_MESSAGES = {
    "enabled": "re-enabled: positions match at the broker.",
    "unchanged": "already active.",
    "not_found": "no such profile.",
    "broker_unreadable": "the broker cannot be read: parity unknown, the profile stays inactive.",
    "refused": "positions do not match at the broker: the profile stays inactive.",
    "kill_switch_running": "a kill switch level covering it is still running or waiting for approval: finish or "
                           "reject it first; the profile stays inactive.",
    "ledger_unavailable": "the ledger cannot record the request: the profile stays inactive.",
    "no_effect": "the update had no effect (missing write rights?): the profile is still inactive.",
}


@blueprint.post("/profiles/<profile_id>/enable")
def enable(profile_id: str) -> BaseResponse:
    reason = request.form.get("reason", "").strip()[:MAX_REASON]
    done = runtime().operations.enable_profile(profile_id[:64], _operator().name, reason, "console")
    good = done.result in ("enabled", "unchanged")
    flash(f"Profile {profile_id[:64]}: {ENABLE_MESSAGES[done.result]}", "ok" if good else "error")
    if done.parity is not None and done.parity.mismatches:
        for mismatch in done.parity.mismatches:
            flash(f"{mismatch['symbol']}: bot {mismatch['bot_qty']:g}, broker {mismatch['broker_qty']:g}", "error")
    if done.parity is not None:
        for ignored in done.parity.explained:  # crypto: the fee paid in the asset and dust are no mismatch
            flash(f"{ignored['symbol']}: bot {ignored['bot_qty']:g}, broker {ignored['broker_qty']:g} (within the "
                  "fee paid in the asset, or dust: not a mismatch)", "ok")
    return redirect(url_for("console.profiles"))


@blueprint.get("/kill-switch")
def kill_switch() -> str:
    rt = runtime()
    switch = rt.operations.kill_switch
    return render_template("console/kill_switch.html", levels=LEVELS, in_force=switch.in_force(),
                           recent=switch.recent(), profiles=pages.profile_rows(rt.services.bot, rt.ledger))


@blueprint.post("/kill-switch")
def engage_kill_switch() -> BaseResponse:
    level = request.form.get("level", "")
    reason = request.form.get("reason", "").strip()[:MAX_REASON]
    chosen = [p[:64] for p in request.form.getlist("profile")][:1000]
    if not reason:
        flash("Engaging the kill switch needs a reason.", "error")
        return redirect(url_for("console.kill_switch"))
    engaged = runtime().operations.engage_kill_switch(level[:32], chosen or None, _operator().name, reason, "console")
    if isinstance(engaged, Refused):
        flash(f"Kill switch not engaged: {engaged.detail}.", "error")
    elif engaged.result == "already_engaged":
        flash(f"Kill switch {level} was already engaged (run #{engaged.engagement.run_id}): nothing new runs.", "error")
    else:
        flash(f"Kill switch {level} engaged for {', '.join(engaged.engagement.profiles)} "
              f"(run #{engaged.engagement.run_id}).", "ok")
    return redirect(url_for("console.kill_switch"))
