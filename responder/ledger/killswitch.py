"""Kill switch engagements in the ledger: engaged once per level, released when every profile is re-armed.

Engaging records, in one write transaction, an occurrence of the responder's own ``KillSwitch`` alert
(source ``operator``: the sweeper never resolves it), a run of the level's steps and the engagement. The
partial unique index on the level (``released_at IS NULL``) lets one engagement per level be in force: a
second engage of the same level, from any surface or replica, fails its insert and gets the engagement in
force back (``already_engaged``); no second run exists. Only an engagement whose run ended with work
undone (a step rejected, expired or failed) is released by such an engage, which then engages anew.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args

from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.exc import IntegrityError

from common.db import write_transaction
from responder.ledger.ingest import create_run
from responder.ledger.schema import alerts, kill_switch, runs, steps
from responder.ledger.store import dumps, loads
from responder.playbooks import Playbook
from responder.states import RunState, StepState

KILL_SWITCH_ALERTNAME = "KillSwitch"
Level = Literal["stop-entries", "cancel-working", "flatten"]
LEVELS: tuple[Level, ...] = get_args(Level)
OPERATOR_SOURCE = "operator"


@dataclass(frozen=True)
class Engagement:
    id: int
    level: str
    profiles: tuple[str, ...]
    run_id: int
    engaged_by: str
    reason: str
    surface: str
    engaged_at: datetime
    rearmed: tuple[str, ...]
    released_at: datetime | None

    @classmethod
    def from_row(cls, row: Any) -> Engagement:
        return cls(row.id, row.level, tuple(loads(row.profiles)), row.run_id, row.engaged_by, row.reason,
                   row.surface, row.engaged_at, tuple(loads(row.rearmed)), row.released_at)

    @property
    def waiting_rearm(self) -> tuple[str, ...]:
        return tuple(p for p in self.profiles if p not in self.rearmed)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "level": self.level, "profiles": list(self.profiles), "run_id": self.run_id,
            "engaged_by": self.engaged_by, "reason": self.reason, "surface": self.surface,
            "engaged_at": self.engaged_at.isoformat(), "rearmed": list(self.rearmed),
            "released_at": self.released_at.isoformat() if self.released_at else None,
        }


@dataclass(frozen=True)
class EngageRequest:
    level: str
    profiles: tuple[str, ...]
    by: str
    reason: str
    surface: str


@dataclass(frozen=True)
class Engaged:
    result: Literal["engaged", "already_engaged"]
    engagement: Engagement


def engage(engine: Engine, request: EngageRequest, playbook: Playbook, mode: str, now: datetime) -> Engaged:
    """Record the engagement and its run, or return the engagement of that level already in force.

    An engagement in force whose run ended without doing all of its work (a step rejected, expired or
    failed: e.g. nobody approved the flatten in time) is superseded: the level is engaged anew."""
    for attempt in range(2):  # bounded: at most one supersession, then the engagement in force is the answer
        try:
            return Engaged("engaged", _insert(engine, request, playbook, mode, now))
        except IntegrityError:
            found = [e for e in in_force(engine) if e.level == request.level]
            if not found and attempt == 0:
                continue  # released in between: engage anew
            if not found:
                raise
            if attempt == 1 or not _superseded(engine, found[0], now):
                return Engaged("already_engaged", found[0])
    raise AssertionError("unreachable")


def _insert(engine: Engine, request: EngageRequest, playbook: Playbook, mode: str, now: datetime) -> Engagement:
    with write_transaction(engine) as conn:
        alert_id = _insert_alert(conn, request, now)
        run_id = create_run(conn, alert_id, playbook, mode, now)
        values = {"level": request.level, "profiles": dumps(list(request.profiles)), "run_id": run_id,
                  "engaged_by": request.by, "reason": request.reason, "surface": request.surface,
                  "engaged_at": now, "rearmed": dumps([])}
        engagement_id = conn.execute(kill_switch.insert().values(values).returning(kill_switch.c.id)).scalar_one()
        return _load(conn, engagement_id)


UNDONE = (StepState.REJECTED, StepState.EXPIRED, StepState.FAILED)


def _superseded(engine: Engine, engagement: Engagement, now: datetime) -> bool:
    """Release `engagement` when its run is over with work left undone (compare-and-set); True when released
    now or by a concurrent engage."""
    with write_transaction(engine) as conn:
        run_state = conn.execute(select(runs.c.state).where(runs.c.id == engagement.run_id)).scalar_one()
        undone = conn.execute(
            select(steps.c.id).where(steps.c.run_id == engagement.run_id, steps.c.state.in_(UNDONE)).limit(1)
        ).first()
        if run_state == RunState.ACTIVE or (undone is None and run_state == RunState.SUCCEEDED):
            return False
        conn.execute(
            update(kill_switch)
            .where(kill_switch.c.id == engagement.id, kill_switch.c.released_at.is_(None))
            .values(released_at=now)
        )
        return True


def _insert_alert(conn: Connection, request: EngageRequest, now: datetime) -> int:
    digest = hashlib.sha256(f"{request.level}:{uuid.uuid4()}".encode()).hexdigest()[:32]
    labels = {"alertname": KILL_SWITCH_ALERTNAME, "severity": "sev1", "level": request.level,
              "profiles": ",".join(request.profiles)[:1000], "engaged_by": request.by}
    values = {
        "fingerprint": f"killswitch-{digest}", "starts_at": now, "status": "firing",
        "alertname": KILL_SWITCH_ALERTNAME, "ends_at": None, "labels": dumps(labels),
        "annotations": dumps({"summary": f"kill switch {request.level} engaged by {request.by}",
                              "description": request.reason}),
        "generator_url": "", "group_key": "", "receiver": "", "source": OPERATOR_SOURCE, "disposition": "run",
        "received_at": now,
    }
    alert_id: int = conn.execute(alerts.insert().values(values).returning(alerts.c.id)).scalar_one()
    return alert_id


def _load(conn: Connection, engagement_id: int) -> Engagement:
    return Engagement.from_row(conn.execute(select(kill_switch).where(kill_switch.c.id == engagement_id)).one())


def in_force(engine: Engine) -> list[Engagement]:
    """The engagements not yet released, oldest first."""
    query = select(kill_switch).where(kill_switch.c.released_at.is_(None)).order_by(kill_switch.c.id)
    with engine.connect() as conn:
        return [Engagement.from_row(row) for row in conn.execute(query)]


def running(engine: Engine, profile: str) -> list[Engagement]:
    """The engagements in force covering `profile` whose run is still active (a level still acting, or waiting
    for an operator): re-arming the profile now would let that run act on a profile trading again."""
    query = (
        select(kill_switch)
        .join(runs, runs.c.id == kill_switch.c.run_id)
        .where(kill_switch.c.released_at.is_(None), runs.c.state == RunState.ACTIVE)
        .order_by(kill_switch.c.id)
    )
    with engine.connect() as conn:
        found = [Engagement.from_row(row) for row in conn.execute(query)]
    return [engagement for engagement in found if profile in engagement.profiles]


def recent(engine: Engine, limit: int = 20) -> list[Engagement]:
    query = select(kill_switch).order_by(kill_switch.c.id.desc()).limit(limit)
    with engine.connect() as conn:
        return [Engagement.from_row(row) for row in conn.execute(query)]


def rearmed(engine: Engine, profile: str, now: datetime) -> list[Engagement]:
    """Note that `profile` was re-armed (parity-checked re-enable) on every engagement in force covering it;
    an engagement whose profiles are all re-armed is released. Returns the engagements it released.

    Each update is a compare-and-set on the re-armed list it read: a concurrent re-arm of another profile
    makes it re-read, never lose one."""
    released: list[Engagement] = []
    for _ in range(10):  # bounded: each retry follows a concurrent re-arm of the same engagement
        pending = [e for e in in_force(engine) if profile in e.waiting_rearm]
        if not pending:
            return released
        with write_transaction(engine) as conn:
            for engagement in pending:
                done = (*engagement.rearmed, profile)
                release = not [p for p in engagement.profiles if p not in done]
                changed = conn.execute(
                    update(kill_switch)
                    .where(kill_switch.c.id == engagement.id, kill_switch.c.rearmed == dumps(list(engagement.rearmed)),
                           kill_switch.c.released_at.is_(None))
                    .values(rearmed=dumps(list(done)), released_at=now if release else None)
                ).rowcount
                if changed == 1 and release:
                    released.append(engagement)
    return released
