"""Record a webhook delivery: every alert occurrence once, and a playbook run for each new one.

Everything happens in one write transaction, so a 2xx is only answered once all of it is durable.
An occurrence is keyed by (fingerprint, startsAt, status): repeats, retries and HA duplicates insert
nothing (``ON CONFLICT DO NOTHING``) and so create no second run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, and_, exists, select, update

from common.db import write_transaction
from responder.ledger.schema import (
    APPROVED,
    AWAITING_APPROVAL,
    PENDING,
    RUN_ACTIVE,
    RUN_CANCELLED,
    RUNNING,
    SKIPPED,
    alerts,
    runs,
    steps,
)
from responder.ledger.store import dumps, insert_ignoring_conflicts
from responder.payload import Alert
from responder.playbooks import Playbook

PlaybookLookup = Callable[[str, str], Playbook | None]


@dataclass(frozen=True)
class Delivery:
    """Where the alerts came from (stored with each occurrence)."""

    group_key: str = ""
    receiver: str = ""
    source: str = "webhook"


@dataclass(frozen=True)
class Recorded:
    """One alert of a delivery after recording: new or a repeat, and the run it started, if any."""

    status: str
    new: bool
    disposition: str
    run_id: int | None
    cancelled_actions: tuple[str, ...] = ()


def record_alerts(
    engine: Engine,
    items: Sequence[Alert],
    delivery: Delivery,
    playbooks: PlaybookLookup,
    mode: str,
    now: datetime,
) -> list[Recorded]:
    """Record every alert in one transaction; raise SQLAlchemyError if the ledger cannot be written."""
    with write_transaction(engine) as conn:
        return [_record(conn, alert, delivery, playbooks, mode, now) for alert in items]


def _record(
    conn: Connection, alert: Alert, delivery: Delivery, playbooks: PlaybookLookup, mode: str, now: datetime
) -> Recorded:
    playbook = playbooks(alert.alertname, alert.status)
    disposition = _disposition(conn, alert, playbook, mode)
    row = conn.execute(
        insert_ignoring_conflicts(conn, alerts)
        .values(
            fingerprint=alert.fingerprint,
            starts_at=alert.starts_at,
            status=alert.status,
            alertname=alert.alertname,
            ends_at=alert.end,
            labels=dumps(alert.labels),
            annotations=dumps(alert.annotations),
            generator_url=alert.generator_url,
            group_key=delivery.group_key,
            receiver=delivery.receiver,
            source=delivery.source,
            disposition=disposition,
            received_at=now,
        )
        .returning(alerts.c.id)
    ).first()
    if row is None:
        return Recorded(alert.status, False, "repeat", None)
    cancelled: list[str] = []
    if alert.status == "resolved":
        cancelled = cancel_firing_runs(conn, alert.fingerprint, alert.starts_at, now)
    run_id = create_run(conn, row.id, playbook, mode, now) if playbook and disposition == "run" else None
    return Recorded(alert.status, True, disposition, run_id, tuple(cancelled))


def _disposition(conn: Connection, alert: Alert, playbook: Playbook | None, mode: str) -> str:
    if alert.status == "firing" and resolved_exists(conn, alert.fingerprint, alert.starts_at):
        return "suppressed_resolved"
    if mode == "off":
        return "mode_off"
    return "run" if playbook else "no_playbook"


def resolved_exists(conn: Connection, fingerprint: str, starts_at: datetime) -> bool:
    """True once a resolved occurrence of (fingerprint, starts_at) is recorded."""
    query = select(
        exists().where(
            alerts.c.fingerprint == fingerprint, alerts.c.starts_at == starts_at, alerts.c.status == "resolved"
        )
    )
    return bool(conn.execute(query).scalar())


def create_run(conn: Connection, alert_id: int, playbook: Playbook, mode: str, now: datetime) -> int:
    run_id: int = conn.execute(
        runs.insert()
        .values(
            alert_id=alert_id,
            playbook=playbook.key,
            state=RUN_ACTIVE,
            mode=mode,
            current_position=0,
            step_count=len(playbook.steps),
            failed=False,
            created_at=now,
        )
        .returning(runs.c.id)
    ).scalar_one()
    conn.execute(
        steps.insert(),
        [
            {
                "run_id": run_id,
                "position": position,
                "name": step.step_name,
                "action": step.action,
                "params": dumps(step.params),
                "policy": step.policy,
                "continue_on_failure": step.continue_on_failure,
                "run_on_failure": step.run_on_failure,
                "state": PENDING,
                "outcome": "",
                "attempts": 0,
                "created_at": now,
            }
            for position, step in enumerate(playbook.steps)
        ],
    )
    return run_id


def cancel_firing_runs(conn: Connection, fingerprint: str, starts_at: datetime, now: datetime) -> list[str]:
    """Cancel the firing runs of a now-resolved occurrence unless a step is executing right now.

    A run with a step in flight is left alone: the claim-time check cancels it before its next step.
    """
    busy = exists().where(steps.c.run_id == runs.c.id, steps.c.state == RUNNING)
    query = (
        select(runs.c.id)
        .join(alerts, alerts.c.id == runs.c.alert_id)
        .where(
            alerts.c.fingerprint == fingerprint,
            alerts.c.starts_at == starts_at,
            alerts.c.status == "firing",
            runs.c.state == RUN_ACTIVE,
            ~busy,
        )
    )
    skipped: list[str] = []
    for run_id in conn.execute(query).scalars().all():
        skipped += cancel_run(conn, run_id, "alert_resolved", now)
    return skipped


def cancel_run(conn: Connection, run_id: int, outcome: str, now: datetime) -> list[str]:
    """Skip every not-yet-executed step of a run and mark it cancelled; return the skipped steps' actions."""
    skipped = conn.execute(
        update(steps)
        .where(and_(steps.c.run_id == run_id, steps.c.state.in_((PENDING, AWAITING_APPROVAL, APPROVED))))
        .values(state=SKIPPED, outcome=outcome, finished_at=now, lease_owner=None, lease_expires_at=None)
        .returning(steps.c.action)
    ).scalars().all()
    conn.execute(
        update(runs)
        .where(runs.c.id == run_id, runs.c.state == RUN_ACTIVE)
        .values(state=RUN_CANCELLED, finished_at=now)
    )
    return list(skipped)
