"""Record a webhook delivery: every alert occurrence once, and a playbook run for each new one.

Everything happens in one write transaction, so a 2xx is only answered once all of it is durable.
An occurrence is keyed by (fingerprint, startsAt, status): repeats, retries and HA duplicates insert
nothing (``ON CONFLICT DO NOTHING``) and so create no second run.

One incident per incident: Prometheus replicas of an HA pair fire the same alert up to one evaluation
interval apart, and Alertmanager may deliver either ``startsAt``. An alert whose fingerprint already has
an occurrence starting less than ``occurrence_window`` away is recorded under that occurrence's
``startsAt`` (the insert looks it up itself), so it is a repeat, not a second run; a resolve carrying
the other replica's ``startsAt`` resolves it too. On PostgreSQL the delivery first takes a transaction
advisory lock per fingerprint (one statement, in fingerprint order), so two replicas' deliveries
recorded at the same moment cannot both miss each other; SQLite's ``BEGIN IMMEDIATE`` already
serialises writers.

The hot path costs one statement per alert (plus that lock statement per delivery): the insert decides
"suppressed by an already recorded resolved occurrence" and the occurrence's ``startsAt`` itself (in
the same statement, so the same snapshot), and the statements are built once per dialect with bound
parameters, so SQLAlchemy's compiled cache is hit instead of rebuilding and re-keying a statement per
alert (docs/performance.md).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Insert,
    String,
    and_,
    bindparam,
    case,
    exists,
    func,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import aliased

from common.db import write_transaction
from responder.ledger.schema import (
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
from responder.states import NOT_STARTED_STATES

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
    window: timedelta = timedelta(0),
) -> list[Recorded]:
    """Record every alert in one transaction (results in the order of `items`); raise SQLAlchemyError if
    the ledger cannot be written. `window`: occurrences of one fingerprint starting closer are one.

    A connection found dead on its first use (the database restarted since it was pooled) is retried
    once on a fresh one: nothing was committed, and the inserts are idempotent.
    """
    for attempt in (1, 2):
        try:
            with write_transaction(engine) as conn:
                if window and conn.dialect.name == "postgresql":
                    _lock_fingerprints(conn, {alert.fingerprint for alert in items})
                return [_record(conn, alert, delivery, playbooks, mode, now, window) for alert in items]
        except DBAPIError as exc:
            if attempt == 2 or not exc.connection_invalidated:
                raise
    raise AssertionError("unreachable")


FINGERPRINT_LOCKS = 7_406_002  # the namespace of the per-fingerprint advisory locks (two-key form)
LOCK_FINGERPRINTS = text(
    "SELECT count(pg_advisory_xact_lock(:namespace, k)) FROM (SELECT unnest(CAST(:keys AS integer[])) AS k"
    " ORDER BY k) AS keys"
)


def _lock_fingerprints(conn: Connection, fingerprints: set[str]) -> None:
    """Serialise deliveries of the same fingerprints until commit (sorted keys: no deadlock between them)."""
    keys = sorted({_lock_key(fingerprint) for fingerprint in fingerprints})
    conn.execute(LOCK_FINGERPRINTS, {"namespace": FINGERPRINT_LOCKS, "keys": keys})


def _lock_key(fingerprint: str) -> int:
    return int.from_bytes(hashlib.sha256(fingerprint.encode("utf-8")).digest()[:4], "big", signed=True)


def _record(
    conn: Connection,
    alert: Alert,
    delivery: Delivery,
    playbooks: PlaybookLookup,
    mode: str,
    now: datetime,
    window: timedelta,
) -> Recorded:
    playbook = playbooks(alert.alertname, alert.status)
    values = {
        "fingerprint": alert.fingerprint,
        "starts_at": alert.starts_at,
        "window_start": _shifted(alert.starts_at, -window),
        "window_end": _shifted(alert.starts_at, window),
        "status": alert.status,
        "alertname": alert.alertname,
        "ends_at": alert.end,
        "labels": dumps(alert.labels),
        "annotations": dumps(alert.annotations),
        "generator_url": alert.generator_url,
        "group_key": delivery.group_key,
        "receiver": delivery.receiver,
        "source": delivery.source,
        "disposition": _disposition(playbook, mode),
        "received_at": now,
    }
    row = conn.execute(_insert_alert(conn.dialect.name, alert.status == "firing", bool(window)), values).first()
    if row is None:
        return Recorded(alert.status, False, "repeat", None)
    disposition = str(row.disposition)
    cancelled: list[str] = []
    if alert.status == "resolved":
        cancelled = cancel_firing_runs(conn, alert.fingerprint, row.starts_at, now)
    run_id = create_run(conn, row.id, playbook, mode, now) if playbook and disposition == "run" else None
    return Recorded(alert.status, True, disposition, run_id, tuple(cancelled))


def _disposition(playbook: Playbook | None, mode: str) -> str:
    """The disposition unless a resolved occurrence was recorded first (the insert checks that)."""
    if mode == "off":
        return "mode_off"
    return "run" if playbook else "no_playbook"


SUPPRESSED = "suppressed_resolved"


NOT_GIVEN = ("id", "absent_since")  # columns an insert leaves to their defaults


@functools.cache
def _shifted(at: datetime, by: timedelta) -> datetime:
    """`at` + `by`, kept within the calendar (a startsAt of year 1 or 9999 is odd, never an error)."""
    try:
        return at + by
    except OverflowError:
        bound = datetime.min if by < timedelta(0) else datetime.max
        return bound.replace(tzinfo=at.tzinfo)


def _insert_alert(dialect: str, firing: bool, windowed: bool) -> Insert:
    """``INSERT .. ON CONFLICT DO NOTHING RETURNING id, disposition, starts_at`` with every value a bound
    parameter.

    `windowed`: the occurrence's ``starts_at`` is that of the fingerprint's first recorded occurrence
    starting within (window_start, window_end), else the alert's own. For a firing alert the disposition
    is ``suppressed_resolved`` when its resolved occurrence is already recorded. Both are decided in the
    same statement. Built once per dialect (immutable, so safe to share).
    """
    params: dict[str, ColumnElement[Any]] = {
        column.name: bindparam(column.name, type_=column.type) for column in alerts.c if column.name not in NOT_GIVEN
    }
    if windowed:
        earlier = aliased(alerts)
        nearby = (
            select(earlier.c.starts_at)
            .where(
                earlier.c.fingerprint == params["fingerprint"],
                earlier.c.starts_at > bindparam("window_start", type_=alerts.c.starts_at.type),
                earlier.c.starts_at < bindparam("window_end", type_=alerts.c.starts_at.type),
            )
            .order_by(earlier.c.id)
            .limit(1)
            .scalar_subquery()
        )
        params["starts_at"] = func.coalesce(nearby, params["starts_at"], type_=alerts.c.starts_at.type)
    if firing:
        resolved = exists().where(
            alerts.c.fingerprint == params["fingerprint"],
            alerts.c.starts_at == params["starts_at"],
            alerts.c.status == "resolved",
        )
        params["disposition"] = case((resolved, literal(SUPPRESSED, String)), else_=params["disposition"])
    returning = (alerts.c.id, alerts.c.disposition, alerts.c.starts_at)
    return insert_ignoring_conflicts(dialect, alerts).values(params).returning(*returning)


def resolved_exists(conn: Connection, fingerprint: str, starts_at: datetime) -> bool:
    """True once a resolved occurrence of (fingerprint, starts_at) is recorded."""
    query = select(
        exists().where(
            alerts.c.fingerprint == fingerprint, alerts.c.starts_at == starts_at, alerts.c.status == "resolved"
        )
    )
    return bool(conn.execute(query).scalar())


INSERT_RUN = runs.insert().returning(runs.c.id)  # values are bound at execution: one cached compilation
INSERT_STEPS = steps.insert()


def create_run(conn: Connection, alert_id: int, playbook: Playbook, mode: str, now: datetime) -> int:
    run = {
        "alert_id": alert_id,
        "playbook": playbook.key,
        "state": RUN_ACTIVE,
        "mode": mode,
        "current_position": 0,
        "step_count": len(playbook.steps),
        "failed": False,
        "created_at": now,
    }
    run_id: int = conn.execute(INSERT_RUN, run).scalar_one()
    conn.execute(
        INSERT_STEPS,
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
                "two_person": step.two_person,
                "state": PENDING,
                "outcome": "",
                "attempts": 0,
                "created_at": now,
            }
            for position, step in enumerate(playbook.steps)
        ],
    )
    return run_id


FIRING_RUNS = (
    select(runs.c.id)
    .join(alerts, alerts.c.id == runs.c.alert_id)
    .where(
        alerts.c.fingerprint == bindparam("fingerprint", type_=alerts.c.fingerprint.type),
        alerts.c.starts_at == bindparam("starts_at", type_=alerts.c.starts_at.type),
        alerts.c.status == "firing",
        runs.c.state == RUN_ACTIVE,
        ~exists().where(steps.c.run_id == runs.c.id, steps.c.state == RUNNING),
    )
)


def cancel_firing_runs(conn: Connection, fingerprint: str, starts_at: datetime, now: datetime) -> list[str]:
    """Cancel the firing runs of a now-resolved occurrence unless a step is executing right now.

    A run with a step in flight is left alone: the claim-time check cancels it before its next step.
    """
    skipped: list[str] = []
    found = conn.execute(FIRING_RUNS, {"fingerprint": fingerprint, "starts_at": starts_at})
    for run_id in found.scalars().all():
        skipped += cancel_run(conn, run_id, "alert_resolved", now)
    return skipped


def cancel_run(conn: Connection, run_id: int, outcome: str, now: datetime) -> list[str]:
    """Skip every not-yet-executed step of a run and mark it cancelled; return the skipped steps' actions."""
    skipped = conn.execute(
        update(steps)
        .where(and_(steps.c.run_id == run_id, steps.c.state.in_(NOT_STARTED_STATES)))
        .values(state=SKIPPED, outcome=outcome, finished_at=now, lease_owner=None, lease_expires_at=None)
        .returning(steps.c.action)
    ).scalars().all()
    conn.execute(
        update(runs)
        .where(runs.c.id == run_id, runs.c.state == RUN_ACTIVE)
        .values(state=RUN_CANCELLED, finished_at=now)
    )
    return list(skipped)
