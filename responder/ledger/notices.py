"""Scheduled incident updates: the "Next Update" a notice promised, held in the ledger until it is kept.

The firing run's notify step schedules update 1 at the time it printed; when that time comes a worker
claims it (compare-and-set on state and attempts, with a lease, like a step), posts it and, in the same
transaction that records it as posted, schedules the next one. An update whose incident has resolved
(or whose run was cancelled) is cancelled instead: the resolved run's notify step posts the final notice.
A worker that dies between posting and recording leaves a lease that expires; the update is then posted
again (at-least-once, like the notify step).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, or_, select, update

from common.db import write_transaction
from responder.ledger.ingest import resolved_exists
from responder.ledger.records import AlertRecord, RunRecord, StepRecord
from responder.ledger.schema import (
    NOTICE_CANCELLED,
    NOTICE_POSTED,
    NOTICE_POSTING,
    NOTICE_SCHEDULED,
    RUN_CANCELLED,
    alerts,
    notices,
    runs,
    steps,
)
from responder.ledger.store import insert_ignoring_conflicts


def schedule(conn: Connection, run_id: int, sequence: int, due_at: datetime, now: datetime) -> datetime:
    """Schedule update `sequence` of the run (once); return its due time (the first schedule wins)."""
    conn.execute(
        insert_ignoring_conflicts(conn, notices).values(
            run_id=run_id, sequence=sequence, due_at=due_at, state=NOTICE_SCHEDULED, attempts=0, outcome="",
            created_at=now,
        )
    )
    found: datetime = conn.execute(
        select(notices.c.due_at).where(notices.c.run_id == run_id, notices.c.sequence == sequence)
    ).scalar_one()
    return found


def schedule_first(engine: Engine, run_id: int, due_at: datetime, now: datetime) -> datetime:
    with write_transaction(engine) as conn:
        return schedule(conn, run_id, 1, due_at, now)


def cancel_for_incident(engine: Engine, fingerprint: str, starts_at: datetime, now: datetime) -> int:
    """Cancel the scheduled updates of every firing run of this incident (it resolved); return how many."""
    firing_runs = (
        select(runs.c.id)
        .join(alerts, alerts.c.id == runs.c.alert_id)
        .where(alerts.c.fingerprint == fingerprint, alerts.c.starts_at == starts_at, alerts.c.status == "firing")
    )
    with write_transaction(engine) as conn:
        done = conn.execute(
            update(notices)
            .where(notices.c.run_id.in_(firing_runs), notices.c.state == NOTICE_SCHEDULED)
            .values(state=NOTICE_CANCELLED, outcome="alert_resolved", posted_at=now)
        )
        return int(done.rowcount)


@dataclass(frozen=True)
class DueUpdate:
    """A claimed update: the run, its alert and steps now, and when the previous notice went out."""

    id: int
    sequence: int
    attempts: int
    owner: str
    since: datetime
    due_at: datetime
    run: RunRecord
    alert: AlertRecord
    steps: tuple[StepRecord, ...]


def claim_due(engine: Engine, owner: str, now: datetime, lease_seconds: float) -> DueUpdate | None:
    """Claim the oldest due update (or one whose poster's lease expired); None when nothing is due.

    An update whose incident resolved, or whose run was cancelled, is cancelled here and None returned."""
    query = (
        select(notices.c.id, notices.c.state, notices.c.attempts)
        .where(
            or_(
                (notices.c.state == NOTICE_SCHEDULED) & (notices.c.due_at <= now),
                (notices.c.state == NOTICE_POSTING) & (notices.c.lease_expires_at < now),
            )
        )
        .order_by(notices.c.due_at)
        .limit(1)
    )
    with engine.connect() as conn:
        found = conn.execute(query).first()
    if found is None:
        return None
    with write_transaction(engine) as conn:
        taken = conn.execute(
            update(notices)
            .where(notices.c.id == found.id, notices.c.state == found.state, notices.c.attempts == found.attempts)
            .values(state=NOTICE_POSTING, attempts=found.attempts + 1, lease_owner=owner,
                    lease_expires_at=now + timedelta(seconds=lease_seconds))
        ).rowcount
        if taken != 1:
            return None
        row = conn.execute(select(notices).where(notices.c.id == found.id)).one()
        run = RunRecord.from_row(conn.execute(select(runs).where(runs.c.id == row.run_id)).one())
        alert = AlertRecord.from_row(conn.execute(select(alerts).where(alerts.c.id == run.alert_id)).one())
        if run.state == RUN_CANCELLED or resolved_exists(conn, alert.fingerprint, alert.starts_at):
            conn.execute(
                update(notices).where(notices.c.id == row.id)
                .values(state=NOTICE_CANCELLED, outcome="alert_resolved", lease_owner=None, lease_expires_at=None)
            )
            return None
        rows = conn.execute(select(steps).where(steps.c.run_id == run.id).order_by(steps.c.position)).all()
    since = row.created_at
    return DueUpdate(row.id, row.sequence, found.attempts + 1, owner, since, row.due_at, run, alert,
                     tuple(StepRecord.from_row(r) for r in rows))


def record_posted(
    engine: Engine, claim: DueUpdate, outcome: str, text: str, next_due: datetime, now: datetime
) -> bool:
    """Record the update as posted and schedule the next one, if this worker still holds it."""
    with write_transaction(engine) as conn:
        done = conn.execute(
            update(notices)
            .where(notices.c.id == claim.id, notices.c.state == NOTICE_POSTING,
                   notices.c.lease_owner == claim.owner, notices.c.attempts == claim.attempts)
            .values(state=NOTICE_POSTED, outcome=outcome[:64], text=text, posted_at=now, lease_owner=None,
                    lease_expires_at=None)
        ).rowcount
        if done != 1:
            return False
        schedule(conn, claim.run.id, claim.sequence + 1, next_due, now)
        return True


def posted(engine: Engine, run_id: int) -> list[tuple[int, str, datetime | None, datetime]]:
    """(sequence, state, posted_at, due_at) of a run's updates, in order."""
    query = select(notices.c.sequence, notices.c.state, notices.c.posted_at, notices.c.due_at).where(
        notices.c.run_id == run_id
    ).order_by(notices.c.sequence)
    with engine.connect() as conn:
        return [(r.sequence, r.state, r.posted_at, r.due_at) for r in conn.execute(query)]
