"""Read models over the ledger: approvals, runs, an incident's timeline and evidence, the backlog."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from responder.ledger.records import AlertRecord, RunRecord, StepRecord
from responder.ledger.schema import AWAITING_APPROVAL, SUCCEEDED, alerts, runs, steps
from responder.states import BACKLOG_STATES, RunState, StepState


@dataclass(frozen=True)
class RunView:
    run: RunRecord
    alert: AlertRecord
    steps: tuple[StepRecord, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.run.id,
            "playbook": self.run.playbook,
            "state": self.run.state,
            "mode": self.run.mode,
            "failed": self.run.failed,
            "created_at": self.run.created_at.isoformat(),
            "finished_at": self.run.finished_at.isoformat() if self.run.finished_at else None,
            "alert": {
                "id": self.alert.id,
                "alertname": self.alert.alertname,
                "status": self.alert.status,
                "fingerprint": self.alert.fingerprint,
                "starts_at": self.alert.starts_at.isoformat(),
                "labels": self.alert.labels,
            },
            "steps": [step.as_dict() for step in self.steps],
        }


def run_view(engine: Engine, run_id: int) -> RunView | None:
    with engine.connect() as conn:
        run_row = conn.execute(select(runs).where(runs.c.id == run_id)).first()
        if run_row is None:
            return None
        run = RunRecord.from_row(run_row)
        alert = AlertRecord.from_row(conn.execute(select(alerts).where(alerts.c.id == run.alert_id)).one())
        rows = conn.execute(select(steps).where(steps.c.run_id == run_id).order_by(steps.c.position)).all()
    return RunView(run, alert, tuple(StepRecord.from_row(row) for row in rows))


def recent_runs(engine: Engine, limit: int = 50, alertname: str | None = None) -> list[RunView]:
    """The newest runs with their alerts and steps: three queries on one snapshot, whatever the limit."""
    query = select(runs).join(alerts, alerts.c.id == runs.c.alert_id).order_by(runs.c.id.desc()).limit(limit)
    if alertname:
        query = query.where(alerts.c.alertname == alertname)
    with engine.connect() as conn:
        found = [RunRecord.from_row(row) for row in conn.execute(query)]
        if not found:
            return []
        alert_rows = conn.execute(select(alerts).where(alerts.c.id.in_({run.alert_id for run in found})))
        by_alert = {row.id: AlertRecord.from_row(row) for row in alert_rows}
        step_query = select(steps).where(steps.c.run_id.in_([run.id for run in found])).order_by(steps.c.position)
        by_run: dict[int, list[StepRecord]] = {run.id: [] for run in found}
        for row in conn.execute(step_query):
            by_run[row.run_id].append(StepRecord.from_row(row))
    return [RunView(run, by_alert[run.alert_id], tuple(by_run[run.id])) for run in found]


def awaiting_approval(engine: Engine) -> list[tuple[StepRecord, AlertRecord]]:
    """Steps waiting for an operator's decision, oldest first, with the alert they answer."""
    query = (
        select(steps, runs.c.alert_id)
        .join(runs, runs.c.id == steps.c.run_id)
        .where(steps.c.state == AWAITING_APPROVAL)
        .order_by(steps.c.id)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
        ids = {row.alert_id for row in rows}
        found = conn.execute(select(alerts).where(alerts.c.id.in_(ids))).all() if ids else []
    by_id = {alert.id: alert for alert in map(AlertRecord.from_row, found)}
    return [(StepRecord.from_row(row), by_id[row.alert_id]) for row in rows]


def incident_occurrences(engine: Engine, fingerprint: str, starts_at: datetime) -> list[AlertRecord]:
    """Every recorded occurrence (firing, resolved) of one alert instance."""
    query = (
        select(alerts)
        .where(alerts.c.fingerprint == fingerprint, alerts.c.starts_at == starts_at)
        .order_by(alerts.c.received_at, alerts.c.id)
    )
    with engine.connect() as conn:
        return [AlertRecord.from_row(row) for row in conn.execute(query)]


def incident_steps(engine: Engine, fingerprint: str, starts_at: datetime) -> list[tuple[AlertRecord, StepRecord]]:
    """Every step of every run of one alert instance, oldest first."""
    query = (
        select(steps, alerts.c.id.label("alert_row_id"))
        .join(runs, runs.c.id == steps.c.run_id)
        .join(alerts, alerts.c.id == runs.c.alert_id)
        .where(alerts.c.fingerprint == fingerprint, alerts.c.starts_at == starts_at)
        .order_by(runs.c.id, steps.c.position)
    )
    occurrences = {alert.id: alert for alert in incident_occurrences(engine, fingerprint, starts_at)}
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [(occurrences[row.alert_row_id], StepRecord.from_row(row)) for row in rows]


def firing_step(engine: Engine, fingerprint: str, starts_at: datetime, step_name: str) -> StepRecord | None:
    """The named step of this alert instance's firing run, if it succeeded."""
    for alert, step in incident_steps(engine, fingerprint, starts_at):
        if alert.status == "firing" and step.name == step_name and step.state == SUCCEEDED:
            return step
    return None


def backlog(engine: Engine) -> dict[str, int]:
    """Steps in each non-terminal state (``approved`` counts as ``pending``: both are due)."""
    query = (
        select(steps.c.state, func.count())
        .join(runs, runs.c.id == steps.c.run_id)
        .where(steps.c.state.in_(BACKLOG_STATES), runs.c.state == RunState.ACTIVE)
        .group_by(steps.c.state)
    )
    shown = (StepState.PENDING, StepState.RUNNING, StepState.AWAITING_APPROVAL, StepState.RETRY_WAIT)
    counts = {str(state): 0 for state in shown}
    with engine.connect() as conn:
        for state, count in conn.execute(query):
            key = StepState.PENDING if state == StepState.APPROVED else state
            counts[str(key)] += int(count)
    return counts


@dataclass(frozen=True)
class StepContext:
    """A step with its run, the alert it answers and the run's other steps (what an action's hooks see)."""

    step: StepRecord
    run: RunRecord
    alert: AlertRecord
    history: tuple[StepRecord, ...]
    later: tuple[StepRecord, ...]


def step_context(engine: Engine, step_id: int) -> StepContext | None:
    with engine.connect() as conn:
        row = conn.execute(select(steps).where(steps.c.id == step_id)).first()
        return None if row is None else load_context(conn, StepRecord.from_row(row))


def load_context(conn: Connection, step: StepRecord) -> StepContext:
    """The step's run, alert and the run's other steps, read on `conn` (the caller's snapshot)."""
    run = RunRecord.from_row(conn.execute(select(runs).where(runs.c.id == step.run_id)).one())
    alert = AlertRecord.from_row(conn.execute(select(alerts).where(alerts.c.id == run.alert_id)).one())
    rows = conn.execute(select(steps).where(steps.c.run_id == run.id).order_by(steps.c.position)).all()
    others = [StepRecord.from_row(r) for r in rows]
    history = tuple(s for s in others if s.position < step.position)
    later = tuple(s for s in others if s.position > step.position)
    return StepContext(step, run, alert, history, later)
