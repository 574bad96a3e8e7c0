"""Tell people: the runbook's communication template (Incident, Severity, Impact, Mitigation, Next Update
(UTC)), built from the ledger by `responder.notice` and posted to the Slack webhook.

A firing alert's notice promises its Next Update (``notify.next_update_minutes`` ahead) and schedules it in
the ledger first, so the promise is kept whatever happens to this process (`responder.updates` posts it).
A resolved alert's notice is the final one: it shows what the firing run did and left undone, promises
nothing and cancels the updates still scheduled. Without a webhook URL the step is recorded as skipped
(``not_configured``) and nothing is promised.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from responder.actions.context import ActionContext
from responder.actions.registry import FAILED, SKIPPED, SUCCEEDED, ActionSpec, Outcome, Params, StepOutput
from responder.ledger import notices, queries
from responder.ledger.records import StepRecord
from responder.notice import Notice, incident_notice
from responder.truncation import TRUNCATED_ALERTNAME


class NoticeSent(StepOutput):
    """The notice as posted, whether it was delivered, and the Next Update it promised (if any)."""

    text: str
    delivery: str
    next_update: str | None = None


class NotifyParams(Params):
    template: str = "incident.txt.j2"
    title: str | None = None


def _incident_steps(ctx: ActionContext) -> list[StepRecord]:
    """The steps the notice describes: this run's; on resolve, the firing run's first (what was done)."""
    if ctx.alert.status != "resolved":
        return [*ctx.history, *ctx.later]
    found = queries.incident_steps(ctx.services.ledger_engine, ctx.alert.fingerprint, ctx.alert.starts_at)
    firing = [step for alert, step in found if alert.status == "firing"]
    return [*firing, *ctx.history]


def current_notice(ctx: ActionContext, title: str | None = None) -> Notice:
    return incident_notice(ctx.alert, ctx.run_id, _incident_steps(ctx), ctx.services.registry, title)


def _promise(ctx: ActionContext, now: datetime) -> datetime | None:
    """Schedule the first update (firing) or cancel those left (resolved); the Next Update to print.

    Nothing is promised for what the responder raised itself (cut alerts): it never resolves."""
    ledger = ctx.services.ledger_engine
    if ctx.alert.status == "resolved":
        notices.cancel_for_incident(ledger, ctx.alert.fingerprint, ctx.alert.starts_at, now)
        return None
    if ctx.alert.alertname == TRUNCATED_ALERTNAME:
        return None
    return notices.schedule_first(ledger, ctx.run_id, now + ctx.services.notifier.update_interval, now)


def notify(ctx: ActionContext, params: NotifyParams) -> Outcome:
    notifier, now = ctx.services.notifier, ctx.now()
    notice = current_notice(ctx, params.title)
    if notifier.configured:
        kind = "final" if ctx.alert.status == "resolved" else "notice"
        notice = dataclasses.replace(notice, next_update=_promise(ctx, now), kind=kind)
    text = notifier.render(params.template, now, **notice.context())
    sent = notifier.send(text)
    promised = notice.next_update.isoformat() if notice.next_update is not None else None
    output = NoticeSent(text=text, delivery=sent.outcome, next_update=promised)
    if sent.outcome == "sent":
        return Outcome(SUCCEEDED, "sent", output)
    if sent.outcome == "not_configured":
        return Outcome(SKIPPED, "not_configured", output)
    return Outcome(FAILED, "error", output, error=sent.detail)


SPECS: tuple[ActionSpec[Any], ...] = (
    ActionSpec("notify", NotifyParams, notify, "mutate", "post the communication template to the Slack webhook",
               output=NoticeSent),
)
