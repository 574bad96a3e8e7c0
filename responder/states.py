"""The ledger's vocabulary, defined once: the states of a step and of a run, and an operator's decisions.

A step goes ``pending`` -> ``running`` -> one of the terminal states, or parks in ``awaiting_approval``
until an operator decides: ``approved`` (due again), ``rejected``, or ``expired`` when nobody decided in
time, or waits in ``retry_wait`` after a transient failure (due again at its ``retry_at``).
Every module that reads or writes a state uses these names, never a bare string.
"""

from __future__ import annotations

from enum import StrEnum


class StepState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    RETRY_WAIT = "retry_wait"  # its target did not answer: due again at retry_at
    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    DRY_RUN = "dry_run"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_STEP_STATES


TERMINAL_STEP_STATES = frozenset(
    {
        StepState.SUCCEEDED,
        StepState.FAILED,
        StepState.SKIPPED,
        StepState.DRY_RUN,
        StepState.REJECTED,
        StepState.EXPIRED,
    }
)
# Steps not finished yet: the backlog (``approved`` is due like ``pending``).
BACKLOG_STATES = (
    StepState.PENDING,
    StepState.RUNNING,
    StepState.AWAITING_APPROVAL,
    StepState.APPROVED,
    StepState.RETRY_WAIT,
)
# Not executed yet: what a cancelled run skips.
NOT_STARTED_STATES = (StepState.PENDING, StepState.AWAITING_APPROVAL, StepState.APPROVED, StepState.RETRY_WAIT)


class RunState(StrEnum):
    ACTIVE = "active"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Decision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


# Why a step waits for a person.
WAIT_POLICY = "policy"
WAIT_BUDGET = "budget_exhausted"
WAIT_CHANGED = "changed_since_approval"
