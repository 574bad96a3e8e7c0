"""The sweeper: reconcile the responder's open incidents with Alertmanager, so that nothing waits forever.

A RESOLVED notification can go missing: Alertmanager never sends one for an alert that was inhibited or
silenced when it resolved, and a delivery can be lost for good. Every ``sweeper.interval_seconds`` the
sweeper lists the alerts every one of ``alertmanager_urls`` still holds (``GET /api/v2/alerts``: active,
silenced, inhibited and unprocessed alike) and compares the open incidents with them: firing occurrences
whose run is still active or whose next update is still scheduled. An occurrence no answering
Alertmanager lists (same fingerprint, ``startsAt`` within the occurrence window) for
``sweeper.absent_for_seconds`` is resolved as if Alertmanager had said so: a resolved occurrence
(source ``sweeper``) is recorded through the webhook's own path, which cancels what the firing run had not
done yet and starts the resolved playbook (the RCA draft, the final notice). When no Alertmanager answers,
nothing is concluded. Every step is idempotent: several workers and replicas may sweep at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests
from pydantic import ValidationError
from sqlalchemy import Engine, exists, select, update
from sqlalchemy.exc import SQLAlchemyError

from common.config import ResponderConfig
from common.db import write_transaction
from responder.ledger.ingest import Delivery, PlaybookLookup, record_alerts
from responder.ledger.schema import NOTICE_SCHEDULED, RUN_ACTIVE, alerts, notices, runs
from responder.ledger.store import loads
from responder.logs import log
from responder.metrics import ResponderMetrics
from responder.payload import Alert, ApiAlert
from responder.truncation import TRUNCATED_ALERTNAME
from responder.wakeup import Wakeup

logger = logging.getLogger(__name__)
MIN_MATCH = timedelta(seconds=1)  # startsAt round-trips through Alertmanager with sub-second differences


@dataclass(frozen=True)
class OpenIncident:
    id: int
    fingerprint: str
    starts_at: datetime
    absent_since: datetime | None
    row: Any


@dataclass(frozen=True)
class SweepResult:
    outcome: str  # "swept", "unavailable" (no Alertmanager answered), "idle" (nothing open)
    open: int = 0
    absent: int = 0
    resolved: int = 0


def open_incidents(engine: Engine) -> list[OpenIncident]:
    """Firing occurrences with no resolved occurrence whose run is active or whose update is scheduled."""
    resolved = alerts.alias("resolved")
    waiting = (runs.c.state == RUN_ACTIVE) | exists().where(
        notices.c.run_id == runs.c.id, notices.c.state == NOTICE_SCHEDULED
    )
    query = (
        select(alerts)
        .join(runs, runs.c.alert_id == alerts.c.id)
        .where(
            alerts.c.status == "firing",
            alerts.c.source == "webhook",
            alerts.c.alertname != TRUNCATED_ALERTNAME,
            waiting,
            ~exists().where(
                resolved.c.fingerprint == alerts.c.fingerprint,
                resolved.c.starts_at == alerts.c.starts_at,
                resolved.c.status == "resolved",
            ),
        )
        .order_by(alerts.c.id)
    )
    with engine.connect() as conn:
        return [OpenIncident(r.id, r.fingerprint, r.starts_at, r.absent_since, r) for r in conn.execute(query)]


def listed_alerts(urls: Sequence[str], session: requests.Session, timeout: float) -> dict[str, list[datetime]] | None:
    """fingerprint -> startsAt of every alert the answering Alertmanagers hold; None when none answered."""
    found: dict[str, list[datetime]] = {}
    answered = False
    for url in urls:
        try:
            response = session.get(url.rstrip("/") + "/api/v2/alerts", timeout=timeout)
            response.raise_for_status()
            body = response.json()
        except (requests.RequestException, ValueError) as exc:
            log(logger, logging.WARNING, "sweeper: Alertmanager did not answer", url=url, error=type(exc).__name__)
            continue
        if not isinstance(body, list):
            continue
        answered = True
        for item in body:
            held = _held_alert(item)
            if held is not None:
                found.setdefault(held[0], []).append(held[1])
    return found if answered else None


def _held_alert(item: Any) -> tuple[str, datetime] | None:
    """(fingerprint, startsAt) of a listed alert; an alert held but unreadable still counts as held
    (``datetime.min``: whatever its start)."""
    fingerprint = item.get("fingerprint") if isinstance(item, dict) else None
    if not isinstance(fingerprint, str):
        return None
    try:
        return fingerprint, ApiAlert.model_validate(item).starts_at
    except ValidationError:
        return fingerprint, datetime.min


def _held(incident: OpenIncident, listed: dict[str, list[datetime]], window: timedelta) -> bool:
    starts = listed.get(incident.fingerprint)
    if starts is None:
        return False
    near = max(window, MIN_MATCH)
    return any(s == datetime.min or abs(s - incident.starts_at) < near for s in starts)


def _resolved_alert(incident: OpenIncident, now: datetime) -> Alert:
    row = incident.row
    return Alert.model_validate(
        {
            "status": "resolved",
            "labels": loads(row.labels),
            "annotations": loads(row.annotations),
            "startsAt": row.starts_at.isoformat(),
            "endsAt": now.isoformat(),
            "generatorURL": row.generator_url,
            "fingerprint": row.fingerprint,
        }
    )


class Sweeper:
    """Sweeps every `interval` seconds in a thread of this process (`start`), or once (`sweep_once`)."""

    def __init__(
        self,
        engine: Engine,
        session: requests.Session,
        config: ResponderConfig,
        playbooks: PlaybookLookup,
        clock: Callable[[], datetime],
        metrics: ResponderMetrics,
        wakeup: Wakeup,
    ) -> None:
        self._engine, self._session, self._urls = engine, session, list(config.alertmanager_urls)
        self._interval = config.sweeper.interval_seconds
        self._absent_for = timedelta(seconds=config.sweeper.absent_for_seconds)
        self._window = timedelta(seconds=config.occurrence_window_seconds)
        self._mode = config.mode
        self._playbooks, self._clock, self._metrics, self._wakeup = playbooks, clock, metrics, wakeup
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def enabled(self) -> bool:
        return bool(self._urls) and self._interval > 0

    def sweep_once(self) -> SweepResult:
        """One reconciliation; counted in tradingbot_responder_sweeps_total{outcome}."""
        result = self._sweep()
        self._metrics.sweeps.labels(result.outcome).inc()
        if result.resolved:
            self._metrics.swept.inc(result.resolved)
            self._wakeup.notify()  # the resolved runs' steps are due now
        return result

    def _sweep(self) -> SweepResult:
        incidents = open_incidents(self._engine)
        if not incidents:
            return SweepResult("idle")
        listed = listed_alerts(self._urls, self._session, timeout=5.0)
        if listed is None:
            return SweepResult("unavailable", len(incidents))
        now = self._clock()
        gone = [i for i in incidents if not _held(i, listed, self._window)]
        self._mark(incidents, gone, now)
        due = [i for i in gone if now - (i.absent_since or now) >= self._absent_for]
        self._resolve(due, now)
        return SweepResult("swept", len(incidents), len(gone), len(due))

    def _mark(self, incidents: list[OpenIncident], gone: list[OpenIncident], now: datetime) -> None:
        """Remember when each occurrence was first found missing; forget it once it is listed again."""
        gone_ids = {i.id for i in gone}
        back = [i.id for i in incidents if i.id not in gone_ids and i.absent_since is not None]
        new = [i.id for i in gone if i.absent_since is None]
        if not new and not back:
            return  # nothing to remember: no write transaction (on SQLite it would take the write lock)
        with write_transaction(self._engine) as conn:
            if new:
                conn.execute(update(alerts).where(alerts.c.id.in_(new), alerts.c.absent_since.is_(None))
                             .values(absent_since=now))
            if back:
                conn.execute(update(alerts).where(alerts.c.id.in_(back)).values(absent_since=None))

    def _resolve(self, due: list[OpenIncident], now: datetime) -> None:
        for incident in due:
            delivery = Delivery(incident.row.group_key, incident.row.receiver, "sweeper")
            record_alerts(self._engine, [_resolved_alert(incident, now)], delivery, self._playbooks, self._mode, now,
                          self._window)
            log(logger, logging.WARNING, "sweeper: alert gone from Alertmanager; resolved", alert_id=incident.id,
                fingerprint=incident.fingerprint, absent_since=str(incident.absent_since))

    def start(self) -> None:
        if not self.enabled or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, daemon=True, name="responder-sweeper")
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stopping.wait(self._interval):
            try:
                result = self.sweep_once()
            except SQLAlchemyError as exc:
                log(logger, logging.WARNING, "sweeper: ledger unavailable", error=type(exc).__name__)
                continue
            except Exception:
                logger.exception("sweep failed")
                continue
            if result.resolved:
                log(logger, logging.INFO, "sweep", outcome=result.outcome, open=result.open, resolved=result.resolved)
