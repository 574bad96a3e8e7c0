"""Read models of the console's pages, built from the ledger (and the bot's DB for profiles)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select

from responder.actions.registry import Registry, StepOutput
from responder.ledger import approvals, queries
from responder.ledger.queries import RunView
from responder.ledger.records import AlertRecord, StepRecord
from responder.ledger.schema import operator_actions, rca_drafts
from responder.ledger.store import loads
from responder.notice import incident_scope
from responder.notifier import severity_name
from responder.states import Decision, RunState, StepState
from sources.botdata import BotData


@dataclass(frozen=True)
class IncidentRow:
    run: RunView
    severity: str
    scope: str
    age_seconds: float
    waiting: tuple[str, ...]

    @property
    def open(self) -> bool:
        return self.run.run.state == RunState.ACTIVE


def scope_of(alert: AlertRecord) -> str:
    return incident_scope(alert.labels)


def incidents(ledger: Engine, now: datetime, limit: int = 100) -> list[IncidentRow]:
    rows = []
    for view in queries.recent_runs(ledger, limit):
        waiting = tuple(s.name for s in view.steps if s.state == StepState.AWAITING_APPROVAL)
        age = (now - view.alert.starts_at).total_seconds()
        rows.append(IncidentRow(view, severity_name(view.alert.labels.get("severity")), scope_of(view.alert), age,
                                waiting))
    return sorted(rows, key=lambda r: (not r.open, -r.run.run.id))


@dataclass(frozen=True)
class Event:
    at: datetime
    kind: str  # alert | step | decision | notification | rca
    text: str
    step: StepRecord | None = None


@dataclass(frozen=True)
class Incident:
    view: RunView
    severity: str
    scope: str
    steps: tuple[tuple[AlertRecord, StepRecord], ...]
    decisions: dict[int, list[approvals.Approval]]
    timeline: tuple[Event, ...]
    rca: str | None
    outputs: dict[int, StepOutput]  # each step's output read through its action's model, by step id


def incident(ledger: Engine, run_id: int, registry: Registry) -> Incident | None:
    view = queries.run_view(ledger, run_id)
    if view is None:
        return None
    alert = view.alert
    steps = tuple(queries.incident_steps(ledger, alert.fingerprint, alert.starts_at))
    given = approvals.decisions(ledger, [step.id for _, step in steps])
    events = [Event(alert.starts_at, "alert", f"{alert.alertname} started firing")]
    for occurrence in queries.incident_occurrences(ledger, alert.fingerprint, alert.starts_at):
        events.append(Event(occurrence.received_at, "alert", f"{occurrence.status} notification received"))
    for occurrence, step in steps:
        events.extend(_step_events(occurrence, step, given.get(step.id, [])))
    rca = _rca(ledger, alert)
    outputs = {step.id: registry.read_output(step.action, step.output) for _, step in steps}
    return Incident(view, severity_name(alert.labels.get("severity")), scope_of(alert), steps, given,
                    tuple(sorted(events, key=lambda e: e.at)), rca, outputs)


def _step_events(occurrence: AlertRecord, step: StepRecord, given: list[approvals.Approval]) -> list[Event]:
    where = f"{occurrence.status} run, step {step.name} [{step.action}]"
    events = []
    if step.awaiting_since:
        events.append(Event(step.awaiting_since, "step", f"{where}: awaiting approval ({step.approval_reason})", step))
    for decision in given:
        verb = "approved" if decision.decision == Decision.APPROVE else "rejected"
        reason = f": {decision.reason}" if decision.reason else ""
        events.append(Event(decision.at, "decision", f"{where}: {verb} by {decision.by} via {decision.surface}"
                                                     f"{reason}", step))
    if step.finished_at:
        outcome = f" ({step.outcome})" if step.outcome else ""
        kind = "notification" if step.action == "notify" else "step"
        events.append(Event(step.finished_at, kind, f"{where}: {step.state}{outcome}", step))
    return events


def _rca(ledger: Engine, alert: AlertRecord) -> str | None:
    query = select(rca_drafts.c.markdown).where(
        rca_drafts.c.fingerprint == alert.fingerprint, rca_drafts.c.starts_at == alert.starts_at
    )
    with ledger.connect() as conn:
        found: str | None = conn.execute(query).scalar()
    return found


def tables(value: Any) -> list[tuple[str, list[str], list[list[Any]]]]:
    """A step's output (or before/after state) as readable tables: (title, columns, rows)."""
    if not isinstance(value, dict):
        return [] if value is None else [("value", ["value"], [[value]])]
    found: list[tuple[str, list[str], list[list[Any]]]] = []
    scalars = [[key, item] for key, item in value.items() if not isinstance(item, dict | list) and key != "text"]
    if scalars:
        found.append(("", ["field", "value"], scalars))
    for key, item in value.items():
        if isinstance(item, list) and item and all(isinstance(row, dict) for row in item):
            columns = list(dict.fromkeys(k for row in item for k in row))
            found.append((key, columns, [[_cell(row.get(c)) for c in columns] for row in item]))
        elif isinstance(item, dict) and item:
            found.append((key, ["field", "value"], [[k, _cell(v)] for k, v in item.items()]))
        elif isinstance(item, list) and item:
            found.append((key, ["value"], [[_cell(v)] for v in item]))
    return found


def _cell(value: Any) -> Any:
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return value


@dataclass(frozen=True)
class ProfileRow:
    id: str
    status: str  # the raw value its entries state reads back (e.g. active), else the state
    entries: str  # enabled / stopped / unknown
    account: str
    last_check: dict[str, Any] | None


def profile_rows(bot: BotData, ledger: Engine) -> list[ProfileRow]:
    found = bot.profiles()
    checks: dict[str, dict[str, Any]] = {}
    query = select(operator_actions).where(operator_actions.c.kind == "enable_profile").order_by(operator_actions.c.id)
    with ledger.connect() as conn:
        for row in conn.execute(query):
            detail = loads(row.detail) or {}
            checks[row.target.removeprefix("profile:")] = {
                "at": row.at, "by": row.by, "result": row.result, "mismatches": detail.get("mismatches") or [],
            }
    return [
        ProfileRow(p.id, p.entries.value or p.entries.state, p.entries.state, ", ".join(p.accounts), checks.get(p.id))
        for p in found
    ]
