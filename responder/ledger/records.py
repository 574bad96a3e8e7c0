"""Typed rows of the ledger, as the rest of the responder sees them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row

from responder.ledger.store import loads


@dataclass(frozen=True)
class AlertRecord:
    id: int
    fingerprint: str
    starts_at: datetime
    status: str
    alertname: str
    labels: dict[str, str]
    annotations: dict[str, str]
    ends_at: datetime | None
    received_at: datetime
    disposition: str

    @classmethod
    def from_row(cls, row: Row[Any]) -> AlertRecord:
        m = row._mapping
        return cls(
            id=m["id"],
            fingerprint=m["fingerprint"],
            starts_at=m["starts_at"],
            status=m["status"],
            alertname=m["alertname"],
            labels=loads(m["labels"]),
            annotations=loads(m["annotations"]),
            ends_at=m["ends_at"],
            received_at=m["received_at"],
            disposition=m["disposition"],
        )


@dataclass(frozen=True)
class RunRecord:
    id: int
    alert_id: int
    playbook: str
    state: str
    mode: str
    current_position: int
    step_count: int
    failed: bool
    created_at: datetime
    finished_at: datetime | None

    @classmethod
    def from_row(cls, row: Row[Any]) -> RunRecord:
        m = row._mapping
        return cls(**{name: m[name] for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class StepRecord:
    id: int
    run_id: int
    position: int
    name: str
    action: str
    params: dict[str, Any]
    policy: str
    continue_on_failure: bool
    run_on_failure: bool
    state: str
    outcome: str
    attempts: int
    lease_owner: str | None
    approval_reason: str | None
    decision: str | None
    decided_by: str | None
    decision_reason: str | None
    before_state: Any
    after_state: Any
    output: Any
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    two_person: bool = False
    awaiting_since: datetime | None = None
    approval_round: int = 0
    approved_guard: Any = None
    retries: int = 0
    retry_at: datetime | None = None
    retry_deadline: datetime | None = None

    @classmethod
    def from_row(cls, row: Row[Any]) -> StepRecord:
        m = row._mapping
        values = {name: m[name] for name in cls.__dataclass_fields__}
        for name in ("params", "before_state", "after_state", "output", "approved_guard"):
            values[name] = loads(values[name])
        values["two_person"] = bool(values["two_person"])
        values["approval_round"] = int(values["approval_round"] or 0)
        values["retries"] = int(values["retries"] or 0)
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "run_id": self.run_id,
            "position": self.position,
            "name": self.name,
            "action": self.action,
            "params": self.params,
            "policy": self.policy,
            "state": self.state,
            "outcome": self.outcome,
            "attempts": self.attempts,
            "approval_reason": self.approval_reason,
            "two_person": self.two_person,
            "awaiting_since": _iso(self.awaiting_since),
            "decision": self.decision,
            "decided_by": self.decided_by,
            "decision_reason": self.decision_reason,
            "before": self.before_state,
            "after": self.after_state,
            "output": self.output,
            "error": self.error,
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "retries": self.retries,
            "retry_at": _iso(self.retry_at),
            "retry_deadline": _iso(self.retry_deadline),
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
