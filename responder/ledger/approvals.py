"""Operators' decisions on steps awaiting approval: one compare-and-set transaction per decision.

A decision first locks the step's row with an UPDATE that matches ``awaiting_approval`` (PostgreSQL
row lock; SQLite holds the write lock for the whole transaction), so decisions given at the same moment
on two replicas are applied one after the other, each seeing the other's. Then:

- a rejection by anyone ends the step (``rejected``) and moves its run on;
- an approval is recorded once per operator and round (a second click by the same operator changes
  nothing); a ``two_person`` step is ``approved`` only once two different operators approved the same
  evidence — when the second sees a different state than the first, the round starts over;
- an approval never outlives ``approval_timeout``: `expire` ends the step as ``expired``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Connection, Engine, func, insert, select, update

from common.db import write_transaction
from responder.evidence import Evidence
from responder.ledger.records import StepRecord
from responder.ledger.schema import approvals, operator_actions, steps
from responder.ledger.steps import advance_run
from responder.ledger.store import dumps, loads
from responder.states import Decision, StepState

Result = Literal[
    "not_found",  # no such step
    "not_waiting",  # the step is not awaiting approval (decided, expired, cancelled, ...)
    "already_decided",  # this operator already decided in this round
    "first_approval",  # recorded; a two-person step waits for a second, different operator
    "restarted",  # the state changed since the first approval: a new round starts with this one
    "approved",  # the step is due to run
    "rejected",
]


@dataclass(frozen=True)
class Approval:
    by: str
    decision: str
    reason: str
    surface: str
    at: datetime
    round: int
    evidence: Any


@dataclass(frozen=True)
class DecisionRequest:
    step_id: int
    by: str
    decision: Decision
    reason: str
    surface: str
    evidence: Evidence


@dataclass(frozen=True)
class Outcome:
    result: Result
    step: StepRecord | None = None
    approvers: tuple[str, ...] = ()


def decide(engine: Engine, request: DecisionRequest, now: datetime) -> Outcome:
    with write_transaction(engine) as conn:
        locked = conn.execute(
            update(steps)
            .where(steps.c.id == request.step_id, steps.c.state == StepState.AWAITING_APPROVAL)
            .values(awaiting_since=steps.c.awaiting_since)
        ).rowcount
        step = _step(conn, request.step_id)
        if step is None:
            return Outcome("not_found")
        if locked != 1:
            return Outcome("not_waiting", step)
        earlier = [a for a in approvals_of(conn, step.id) if a.round == step.approval_round]
        if any(a.by == request.by for a in earlier):
            return Outcome("already_decided", step, tuple(a.by for a in earlier))
        if request.decision == Decision.REJECT:
            return _reject(conn, step, request, now)
        return _approve(conn, step, request, earlier, now)


def _reject(conn: Connection, step: StepRecord, request: DecisionRequest, now: datetime) -> Outcome:
    _record(conn, step, step.approval_round, request, now)
    conn.execute(
        update(steps)
        .where(steps.c.id == step.id)
        .values(
            state=StepState.REJECTED,
            outcome="rejected",
            decision=Decision.REJECT,
            decided_by=request.by,
            decision_reason=request.reason,
            decided_at=now,
            finished_at=now,
        )
    )
    step = _step_now(conn, step.id)
    advance_run(conn, step, now)
    _audit(conn, step, request, "rejected", now)
    return Outcome("rejected", step, (request.by,))


def _approve(
    conn: Connection, step: StepRecord, request: DecisionRequest, earlier: list[Approval], now: datetime
) -> Outcome:
    guard = request.evidence.guard
    stale = [a for a in earlier if a.decision == Decision.APPROVE and _guard(a.evidence) != guard]
    if stale:  # the first approver saw another state: start a new round with this approval
        round_ = step.approval_round + 1
        conn.execute(update(steps).where(steps.c.id == step.id).values(approval_round=round_, awaiting_since=now))
        _record(conn, step, round_, request, now)
        _audit(conn, step, request, "restarted", now)
        return Outcome("restarted", _step_now(conn, step.id), (request.by,))
    _record(conn, step, step.approval_round, request, now)
    approvers = tuple(sorted({a.by for a in earlier if a.decision == Decision.APPROVE} | {request.by}))
    if len(approvers) < (2 if step.two_person else 1):
        _audit(conn, step, request, "first_approval", now)
        return Outcome("first_approval", _step_now(conn, step.id), approvers)
    conn.execute(
        update(steps)
        .where(steps.c.id == step.id)
        .values(
            state=StepState.APPROVED,
            outcome="",
            decision=Decision.APPROVE,
            decided_by=", ".join(approvers),
            decision_reason=request.reason,
            decided_at=now,
            approved_guard=None if guard is None else dumps(guard),
        )
    )
    _audit(conn, step, request, "approved", now)
    return Outcome("approved", _step_now(conn, step.id), approvers)


def _guard(evidence: Any) -> Any:
    return evidence.get("guard") if isinstance(evidence, dict) else None


def _record(conn: Connection, step: StepRecord, round_: int, request: DecisionRequest, now: datetime) -> None:
    conn.execute(
        insert(approvals).values(
            step_id=step.id,
            round=round_,
            by=request.by,
            decision=request.decision,
            reason=request.reason,
            surface=request.surface,
            evidence=dumps(request.evidence.as_dict()),
            at=now,
        )
    )


def _audit(conn: Connection, step: StepRecord, request: DecisionRequest, result: str, now: datetime) -> None:
    conn.execute(
        operator_actions.insert().values(
            at=now,
            kind=str(request.decision),
            target=f"step:{step.id}",
            by=request.by,
            reason=request.reason,
            result=result,
            detail=dumps({"action": step.action, "run_id": step.run_id, "surface": request.surface}),
        )
    )


def _step(conn: Connection, step_id: int) -> StepRecord | None:
    row = conn.execute(select(steps).where(steps.c.id == step_id)).first()
    return None if row is None else StepRecord.from_row(row)


def _step_now(conn: Connection, step_id: int) -> StepRecord:
    step = _step(conn, step_id)
    assert step is not None
    return step


def approvals_of(conn: Connection, step_id: int) -> list[Approval]:
    rows = conn.execute(select(approvals).where(approvals.c.step_id == step_id).order_by(approvals.c.id)).all()
    return [
        Approval(r.by, r.decision, r.reason, r.surface, r.at, r.round, loads(r.evidence)) for r in rows
    ]


def decisions(engine: Engine, step_ids: list[int]) -> dict[int, list[Approval]]:
    """Every decision given on these steps, oldest first."""
    found: dict[int, list[Approval]] = {step_id: [] for step_id in step_ids}
    if not step_ids:
        return found
    query = select(approvals).where(approvals.c.step_id.in_(step_ids)).order_by(approvals.c.id)
    with engine.connect() as conn:
        for r in conn.execute(query):
            found[r.step_id].append(Approval(r.by, r.decision, r.reason, r.surface, r.at, r.round, loads(r.evidence)))
    return found


def expire(engine: Engine, now: datetime, timeout_seconds: float) -> list[StepRecord]:
    """End steps nobody decided on within `timeout_seconds` (``expired``); return them, each once."""
    cutoff = now - timedelta(seconds=timeout_seconds)
    since = func.coalesce(steps.c.awaiting_since, steps.c.started_at, steps.c.created_at)
    with engine.connect() as conn:
        due = conn.execute(
            select(steps.c.id, steps.c.approval_round).where(
                steps.c.state == StepState.AWAITING_APPROVAL, since < cutoff
            )
        ).all()
    expired: list[StepRecord] = []
    for step_id, round_ in due:
        with write_transaction(engine) as conn:
            done = conn.execute(
                update(steps)
                .where(
                    steps.c.id == step_id,
                    steps.c.state == StepState.AWAITING_APPROVAL,
                    func.coalesce(steps.c.approval_round, 0) == (round_ or 0),
                )
                .values(state=StepState.EXPIRED, outcome="approval_expired", finished_at=now)
            ).rowcount
            if done == 1:
                step = _step_now(conn, step_id)
                advance_run(conn, step, now)
                expired.append(step)
    return expired
