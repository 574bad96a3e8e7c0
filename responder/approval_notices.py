"""Tell people about approvals: a Slack approval request (evidence + buttons) when a step starts waiting,
a notice when an approval expires or an approved step refuses to run because the state changed, and one
when a blast-radius budget is exhausted."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from responder.actions.context import ActionContext
from responder.actions.registry import ActionSpec
from responder.evidence import Evidence
from responder.ledger.records import StepRecord
from responder.ledger.steps import Claim
from responder.logs import log
from responder.notice import incident_scope
from responder.notifier import Notifier, Sent, slack_escape
from responder.slack import messages

logger = logging.getLogger(__name__)


def evidence_now(ctx: ActionContext, spec: ActionSpec[Any], params: Any, fallback: str) -> Evidence:
    """The step's preview, or `fallback` when it has none or it cannot be computed now."""
    if spec.preview is None:
        return Evidence(fallback or spec.summary)
    try:
        return spec.preview(ctx, params)
    except Exception as exc:
        return Evidence(f"evidence unavailable now ({type(exc).__name__}); see the console", available=False)


def request_approval(
    notifier: Notifier, ctx: ActionContext, step: StepRecord, evidence: Evidence, round_: int, console_url: str | None
) -> Sent:
    link = f"{console_url.rstrip('/')}/console/incidents/{ctx.run_id}" if console_url else None
    text, blocks = messages.approval_request(step.id, round_, step.name, ctx.alert, evidence, step.two_person, link)
    sent = notifier.send(text, blocks)
    log(logger, logging.INFO, "approval requested", step_id=step.id, notification=sent.outcome)
    return sent


def expired(notifier: Notifier, step: StepRecord, alertname: str, timeout_seconds: float) -> Sent:
    text = (
        f"Approval expired: step {slack_escape(step.name)} (#{step.id}, {slack_escape(step.action)}) of "
        f"{slack_escape(alertname)} got no decision within {timeout_seconds / 60:g} min and will not run."
    )
    sent = notifier.send(text)
    log(logger, logging.WARNING, "approval expired", step_id=step.id, notification=sent.outcome)
    return sent


def budget_exhausted(notifier: Notifier, now: datetime, claim: Claim, name: str, limit: int, window: float) -> Sent:
    """Announce that the budget `name` is spent (`limit` per `window` seconds): the step awaits an operator."""
    text = notifier.render(
        "budget_exhausted.txt.j2",
        now,
        budget=name,
        used=limit,
        limit=limit,
        window=f"{window:g} s",
        step_id=claim.step.id,
        step_name=claim.step.name,
        alertname=claim.alert.alertname,
        scope=incident_scope(claim.alert.labels),
    )
    return notifier.send(text)
