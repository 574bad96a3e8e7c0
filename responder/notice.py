"""The runbook's communication template as data: Incident, Severity, Impact, Mitigation, Next Update.

`incident_notice` turns an alert and its run's steps (as the ledger holds them) into a typed `Notice`:
what is known (the evidence steps' summaries), what each side-effecting step did or is doing, and who
or what the run waits for — an operator's approval (with the step id to approve), a retry of a target
that did not answer, or nothing because an earlier step failed. The notify action, the scheduled
updates and the final notice on resolve render the same object (``templates/incident.txt.j2``); any
other channel (a Slack message with buttons, a ticket) can render it too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from responder.actions.registry import Registry
from responder.ledger.records import AlertRecord, StepRecord
from responder.ledger.schema import (
    APPROVED,
    AWAITING_APPROVAL,
    DRY_RUN,
    EXPIRED,
    FAILED,
    PENDING,
    REJECTED,
    RETRY_WAIT,
    RUNNING,
    SKIPPED,
    SUCCEEDED,
)
from responder.notifier import severity_name
from responder.states import WAIT_BUDGET, WAIT_CHANGED

SCOPE_LABELS = ("profile", "profiles", "account", "symbol", "channel", "level")  # "profiles", "level": kill switch
WAIT_REASONS = {WAIT_BUDGET: "the blast-radius budget is used up", WAIT_CHANGED: "the state changed since the approval"}


@dataclass(frozen=True)
class StepLine:
    """One step as people read it: its name, its state and what that means now."""

    name: str
    state: str
    text: str
    step_id: int


@dataclass(frozen=True)
class Notice:
    incident: str
    alertname: str
    status: str
    severity: str
    scope: str
    impact: list[str]
    mitigation: list[StepLine]
    upcoming: list[StepLine]
    failed: bool
    run_id: int
    next_update: datetime | None = None  # None: no further update is promised (resolved, or none scheduled)
    kind: str = "notice"  # notice | update | final
    sequence: int = 0
    changes: list[str] = field(default_factory=list)

    def context(self) -> dict[str, object]:
        """The template's variables."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def incident_scope(labels: dict[str, str]) -> str:
    """The profiles, accounts, symbols or channel an alert is about, in words."""
    return ", ".join(f"{name} {labels[name]}" for name in SCOPE_LABELS if labels.get(name)) or "all profiles"


def _summary(step: StepRecord, registry: Registry) -> str:
    return registry.read_output(step.action, step.output).summary


def _utc(value: datetime | None) -> str:
    return value.strftime("%H:%M:%S UTC") if value else "?"


def describe_step(step: StepRecord, registry: Registry) -> str:
    """What a step's state means now, in words: done, failed, waiting for whom, retrying until when."""
    texts: dict[str, str] = {
        SUCCEEDED: _summary(step, registry) or "done",
        FAILED: f"FAILED: {step.error or step.outcome}",
        DRY_RUN: "dry run, not executed",
        REJECTED: f"rejected by {step.decided_by or 'an operator'}",
        SKIPPED: f"skipped ({step.outcome})",
        RUNNING: "in progress",
        APPROVED: f"approved by {step.decided_by or 'an operator'}, runs next",
        PENDING: "runs next, automatically",
        EXPIRED: "expired: nobody decided in time",
    }
    if step.state == AWAITING_APPROVAL:
        why = WAIT_REASONS.get(step.approval_reason or "", "policy")
        who = "two operators' approvals" if step.two_person else "an operator's approval"
        return f"waits for {who} ({why}): responder approvals approve {step.id}"
    if step.state == RETRY_WAIT:
        return (
            f"retrying, its target did not answer ({step.outcome}); next attempt {_utc(step.retry_at)},"
            f" gives up at {_utc(step.retry_deadline)}"
        )
    return texts.get(step.state, step.state)


def _upcoming(step: StepRecord, failed: bool) -> str | None:
    """What will happen to a step that has not started yet; None when it will not show (policy off)."""
    if failed and not step.run_on_failure:
        return "will not run: an earlier step failed"
    if step.policy == "off":
        return None
    if step.policy == "approval":
        return "will wait for an operator's approval"
    return "runs next, automatically"


def incident_notice(
    alert: AlertRecord, run_id: int, steps: Sequence[StepRecord], registry: Registry, title: str | None = None
) -> Notice:
    """The notice for an alert and its run's steps as they are now (the notify step itself left out)."""
    steps = [s for s in steps if s.action != "notify"]
    observe = {s.id for s in steps if s.action in registry and registry.get(s.action).effect == "observe"}
    started = [s for s in steps if s.state != PENDING]
    failed_run = any(s.state == FAILED and not s.continue_on_failure for s in started)
    labels = alert.labels
    upcoming = [(s, _upcoming(s, failed_run)) for s in steps if s.state == PENDING]
    return Notice(
        incident=title or alert.annotations.get("summary") or alert.alertname,
        alertname=alert.alertname,
        status=alert.status,
        severity=severity_name(labels.get("severity")),
        scope=incident_scope(labels),
        impact=[line for line in (_summary(s, registry) for s in started if s.id in observe) if line],
        mitigation=[StepLine(s.name, s.state, describe_step(s, registry), s.id)
                    for s in started if s.id not in observe],
        upcoming=[StepLine(s.name, s.state, text, s.id) for s, text in upcoming if text],
        failed=any(s.state == FAILED for s in started),
        run_id=run_id,
    )
