"""The step lifecycle: find due steps, claim them with a lease, record before/after, approvals.

Every transition is a compare-and-set ``UPDATE`` on the state the caller last saw (a claim matches
``state`` and ``attempts``; later transitions match the lease owner and attempt count), so two workers,
threads or replicas can never both execute one step: the loser's UPDATE changes no row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, func, or_, select, update

from common.db import write_transaction
from responder.ledger.ingest import cancel_run, resolved_exists
from responder.ledger.queries import load_context
from responder.ledger.records import AlertRecord, RunRecord, StepRecord
from responder.ledger.schema import (
    APPROVED,
    AWAITING_APPROVAL,
    FAILED,
    PENDING,
    RETRY_WAIT,
    RUN_ACTIVE,
    RUN_FAILED,
    RUN_SUCCEEDED,
    RUNNING,
    SKIPPED,
    runs,
    steps,
)
from responder.ledger.store import dumps
from responder.states import Decision, StepState


@dataclass(frozen=True)
class Candidate:
    step_id: int
    state: str
    attempts: int


@dataclass(frozen=True)
class Lease:
    step_id: int
    owner: str
    attempts: int


@dataclass(frozen=True)
class Claim:
    """A step this worker holds the lease on, with its run, alert and the run's earlier steps."""

    lease: Lease
    step: StepRecord
    run: RunRecord
    alert: AlertRecord
    history: tuple[StepRecord, ...]
    later: tuple[StepRecord, ...]

    @property
    def approved(self) -> bool:
        return self.step.decision == Decision.APPROVE


@dataclass(frozen=True)
class Cancelled:
    """The claimed step's alert is already resolved: the run was cancelled, these actions skipped."""

    actions: tuple[str, ...]


@dataclass(frozen=True)
class StepEnd:
    state: StepState
    outcome: str
    output: Any = None
    after: Any = None
    error: str | None = None


def find_due(engine: Engine, now: datetime, limit: int = 16) -> list[Candidate]:
    """Steps that are next in an active run and not held: pending, approved, due for a retry, or with an
    expired lease."""
    query = (
        select(steps.c.id, steps.c.state, steps.c.attempts)
        .join(runs, runs.c.id == steps.c.run_id)
        .where(
            runs.c.state == RUN_ACTIVE,
            steps.c.position == runs.c.current_position,
            or_(
                steps.c.state.in_((PENDING, APPROVED)),
                (steps.c.state == RUNNING) & (steps.c.lease_expires_at < now),
                (steps.c.state == RETRY_WAIT) & (steps.c.retry_at <= now),
            ),
        )
        .order_by(steps.c.id)
        .limit(limit)
    )
    with engine.connect() as conn:
        return [Candidate(row.id, row.state, row.attempts) for row in conn.execute(query)]


def claim(
    engine: Engine, due: Candidate, owner: str, now: datetime, lease_seconds: float
) -> Claim | Cancelled | None:
    """Take the lease on a due step; None when another worker was faster."""
    with write_transaction(engine) as conn:
        taken = conn.execute(
            update(steps)
            .where(steps.c.id == due.step_id, steps.c.state == due.state, steps.c.attempts == due.attempts)
            .values(
                state=RUNNING,
                attempts=due.attempts + 1,
                lease_owner=owner,
                lease_expires_at=now + timedelta(seconds=lease_seconds),
                started_at=now,
            )
        ).rowcount
        if taken != 1:
            return None
        context = load_context(conn, _step(conn, due.step_id))
        step, run, alert = context.step, context.run, context.alert
        if alert.status == "firing" and resolved_exists(conn, alert.fingerprint, alert.starts_at):
            released = {"finished_at": now, "lease_owner": None, "lease_expires_at": None}
            conn.execute(
                update(steps).where(steps.c.id == step.id).values(state=SKIPPED, outcome="alert_resolved", **released)
            )
            return Cancelled((step.action, *cancel_run(conn, run.id, "alert_resolved", now)))
        history, later = context.history, context.later
        return Claim(Lease(step.id, owner, due.attempts + 1), step, run, alert, history, later)


def _step(conn: Connection, step_id: int) -> StepRecord:
    return StepRecord.from_row(conn.execute(select(steps).where(steps.c.id == step_id)).one())


def _held(lease: Lease) -> Any:
    return (
        (steps.c.id == lease.step_id)
        & (steps.c.lease_owner == lease.owner)
        & (steps.c.attempts == lease.attempts)
        & (steps.c.state == RUNNING)
    )


def holds(conn: Connection, lease: Lease) -> bool:
    return conn.execute(select(steps.c.id).where(_held(lease))).first() is not None


def record_before(engine: Engine, lease: Lease, before: Any, now: datetime, lease_seconds: float) -> bool:
    """Store the before-state (committed before the action runs) and start a full lease for the action.

    False when the lease was lost or has already expired: the checks before the action (precheck,
    budget, snapshot, a ledger outage) may have outlasted it, and another worker may re-claim an expired
    lease at any moment, so the action must not start on one.
    """
    with write_transaction(engine) as conn:
        recorded = conn.execute(
            update(steps)
            .where(_held(lease), steps.c.lease_expires_at > now)
            .values(before_state=dumps(before), lease_expires_at=now + timedelta(seconds=lease_seconds))
        ).rowcount
        return recorded == 1


def finish(engine: Engine, lease: Lease, end: StepEnd, now: datetime) -> bool:
    """Record the step's end and move its run on; False (nothing written) when the lease was lost."""
    with write_transaction(engine) as conn:
        done = conn.execute(
            update(steps)
            .where(_held(lease))
            .values(
                state=end.state,
                outcome=end.outcome[:64],
                output=None if end.output is None else dumps(end.output),
                after_state=None if end.after is None else dumps(end.after),
                error=end.error,
                finished_at=now,
                lease_owner=None,
                lease_expires_at=None,
            )
        ).rowcount
        if done != 1:
            return False
        advance_run(conn, _step(conn, lease.step_id), now)
        return True


def advance_run(conn: Connection, step: StepRecord, now: datetime) -> None:
    """Point the run at its next step; finish the run after its last one. A run that is no longer active
    (cancelled by a resolve while this step executed) keeps its state."""
    run = RunRecord.from_row(conn.execute(select(runs).where(runs.c.id == step.run_id)).one())
    failed = run.failed or (step.state == FAILED and not step.continue_on_failure)
    values: dict[str, Any] = {"current_position": step.position + 1, "failed": failed}
    if step.position + 1 >= run.step_count:
        values.update(state=RUN_FAILED if failed else RUN_SUCCEEDED, finished_at=now)
    conn.execute(
        update(runs)
        .where(runs.c.id == run.id, runs.c.state == RUN_ACTIVE, runs.c.current_position == step.position)
        .values(**values)
    )


@dataclass(frozen=True)
class RetryLater:
    """A transient failure: try the step again at `at`, unless `deadline` has passed by then."""

    at: datetime
    deadline: datetime
    kind: str
    error: str
    output: Any = None  # what is known of the failed attempt, if anything


def retry_later(engine: Engine, lease: Lease, retry: RetryLater) -> bool:
    """Hold the pending retry in the ledger (the run waits at this step); False when the lease was lost."""
    return _release(
        engine,
        lease,
        state=RETRY_WAIT,
        outcome=retry.kind[:64],
        error=retry.error,
        retries=func.coalesce(steps.c.retries, 0) + 1,
        retry_at=retry.at,
        retry_deadline=retry.deadline,
        output=None if retry.output is None else dumps(retry.output),
    )


def _release(engine: Engine, lease: Lease, **values: Any) -> bool:
    """Leave a held step waiting (for a retry, an operator) with its lease released; False when it was lost."""
    with write_transaction(engine) as conn:
        released = conn.execute(
            update(steps).where(_held(lease)).values(lease_owner=None, lease_expires_at=None, **values)
        ).rowcount
        return released == 1


def renew(engine: Engine, lease: Lease, until: datetime) -> bool:
    """Extend the lease of a step that is still executing; False when it is no longer held."""
    with write_transaction(engine) as conn:
        return conn.execute(update(steps).where(_held(lease)).values(lease_expires_at=until)).rowcount == 1


def await_approval(engine: Engine, lease: Lease, reason: str, now: datetime, output: Any = None) -> bool:
    """Park the step until operators decide; the run waits at this step.

    Each parking opens a new approval round: decisions given for an earlier round (before the state
    changed under an approved step) no longer count, and any earlier decision is cleared.
    """
    return _release(
        engine,
        lease,
        state=AWAITING_APPROVAL,
        approval_reason=reason,
        output=None if output is None else dumps(output),
        awaiting_since=now,
        approval_round=func.coalesce(steps.c.approval_round, 0) + 1,
        decision=None,
        decided_by=None,
        decision_reason=None,
        decided_at=None,
        approved_guard=None,
    )
