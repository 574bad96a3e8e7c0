"""Tell people: render the runbook's communication template (Incident, Severity, Impact, Mitigation,
Next Update (UTC)) and post it. Impact lists the evidence steps' summaries; Mitigation lists what the
run's earlier side-effecting steps did — failures, dry runs and rejections included — and what awaits
approval. Without a webhook URL the step is recorded as skipped (``not_configured``)."""

from __future__ import annotations

from typing import Any

from responder.actions.context import ActionContext
from responder.actions.registry import ActionSpec, Outcome, Params
from responder.ledger.records import StepRecord
from responder.ledger.schema import FAILED
from responder.notifier import severity_name

SCOPE_LABELS = ("profile", "account", "symbol", "channel")


class NotifyParams(Params):
    template: str = "incident.txt.j2"
    title: str | None = None


def _summary(step: StepRecord) -> str:
    output = step.output if isinstance(step.output, dict) else {}
    return str(output.get("summary") or "")


def incident_context(ctx: ActionContext, title: str | None = None) -> dict[str, Any]:
    """The template's variables for this alert and run."""
    labels = ctx.alert.labels
    registry = ctx.services.registry
    observed = [s for s in ctx.history if s.action in registry and registry.get(s.action).effect == "observe"]
    acted = [s for s in ctx.history if s not in observed and s.action != "notify"]
    scope = ", ".join(f"{name} {labels[name]}" for name in SCOPE_LABELS if labels.get(name))
    return {
        "incident": title or ctx.alert.annotations.get("summary") or ctx.alert.alertname,
        "alertname": ctx.alert.alertname,
        "status": ctx.alert.status,
        "severity": severity_name(labels.get("severity")),
        "scope": scope or "all profiles",
        "impact": [line for line in map(_summary, observed) if line],
        "mitigation": [
            {
                "name": s.name,
                "state": s.state,
                "outcome": s.outcome,
                "summary": _summary(s),
                "error": s.error or "",
                "by": s.decided_by or "",
            }
            for s in acted
        ],
        "awaiting_approval": [s.name for s in ctx.later if s.policy == "approval"],
        "failed": any(s.state == FAILED for s in ctx.history),
        "run_id": ctx.run_id,
    }


def notify(ctx: ActionContext, params: NotifyParams) -> Outcome:
    notifier = ctx.services.notifier
    text = notifier.render(params.template, ctx.now(), **incident_context(ctx, params.title))
    sent = notifier.send(text)
    output = {"text": text, "delivery": sent.outcome}
    if sent.outcome == "sent":
        return Outcome("succeeded", "sent", output)
    if sent.outcome == "not_configured":
        return Outcome("skipped", "not_configured", output)
    return Outcome("failed", "error", output, error=sent.detail)


SPECS: tuple[ActionSpec[Any], ...] = (
    ActionSpec("notify", NotifyParams, notify, "mutate", "post the communication template to the Slack webhook"),
)
