"""``POST /alerts``: Alertmanager's webhook. 2xx only once every alert of the body is durably recorded.

Checks in order, none of which ever starts an action: bearer token (401), media type (415), size
(413, ``max_body_bytes``), payload (400). A ledger that cannot be written answers 503 so that
Alertmanager retries. The work itself runs later in executor threads, woken right after the commit.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import Blueprint, Response, jsonify, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import RequestEntityTooLarge

from responder.ledger.ingest import Delivery, Recorded, record_alerts
from responder.logs import log
from responder.payload import Notification, PayloadError, parse_notification
from responder.runtime import Runtime
from responder.states import StepState
from responder.truncation import MAX_COUNTED_TRUNCATED, Recovery, recover, truncation_alert
from responder.web.common import bearer_matches, error, runtime

logger = logging.getLogger(__name__)
blueprint = Blueprint("webhook", __name__)


def _reject(rt: Runtime, outcome: str, status: int, message: str) -> tuple[Response, int]:
    rt.metrics.notifications.labels(outcome).inc()
    log(logger, logging.INFO, "delivery rejected", outcome=outcome, status=status)
    return error(status, message)


@blueprint.post("/alerts")
def receive_alerts() -> tuple[Response, int]:
    rt = runtime()
    settings = rt.settings
    open_locally = settings.insecure_local and not settings.secrets.webhook_token
    if not open_locally and not bearer_matches(settings.secrets.webhook_token):
        return _reject(rt, "unauthorized", 401, "missing or wrong bearer token")
    if request.mimetype != "application/json":
        return _reject(rt, "unsupported_media_type", 415, "expected Content-Type: application/json")
    limit = settings.responder.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        return _reject(rt, "too_large", 413, f"body exceeds {limit} bytes")
    body = _read_body(limit)
    if body is None:
        return _reject(rt, "too_large", 413, f"body exceeds {limit} bytes")
    try:
        notification = parse_notification(body)
    except PayloadError as exc:
        return _reject(rt, "bad_request", 400, f"not an Alertmanager v4 payload: {exc}")
    with rt.wakeup.delivery():  # this process's executors give way meanwhile (bounded)
        return _record(rt, notification)


def _read_body(limit: int) -> bytes | None:
    """The body, or None when it is longer than `limit` (also for chunked bodies without Content-Length)."""
    request.max_content_length = limit + 1
    chunks: list[bytes] = []
    size = 0
    try:
        while size <= limit:
            chunk = request.stream.read(min(65_536, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except RequestEntityTooLarge:
        return None
    return None if size > limit else b"".join(chunks)


def _record(rt: Runtime, notification: Notification) -> tuple[Response, int]:
    config = rt.settings.responder
    recovery = recover(notification, config.alertmanager_urls, rt.services.http)
    alerts = [*notification.alerts, *recovery.alerts]
    if recovery.unrecovered:
        alerts.append(truncation_alert(notification, recovery))
    delivery = Delivery(notification.group_key, notification.receiver, "webhook")
    try:
        window = timedelta(seconds=config.occurrence_window_seconds)
        recorded = record_alerts(rt.ledger, alerts, delivery, rt.playbooks.get, config.mode, rt.clock(), window)
    except SQLAlchemyError as exc:
        rt.metrics.notifications.labels("ledger_unavailable").inc()
        log(logger, logging.ERROR, "ledger unavailable; asking Alertmanager to retry", error=type(exc).__name__)
        return error(503, "the ledger cannot be written; retry later")
    _count(rt, recorded, recovery, len(notification.alerts))
    runs = [r.run_id for r in recorded if r.run_id is not None]
    if runs:
        rt.wakeup.notify()
    new = sum(1 for r in recorded if r.new)
    log(logger, logging.INFO, "delivery recorded", alerts=len(recorded), new=new, runs=len(runs))
    body = {"status": "recorded", "alerts": len(recorded), "new": new, "runs": runs}
    if notification.truncated_alerts:
        body["truncated"] = {"recovered": recovery.recovered, "unrecovered": recovery.unrecovered}
    return jsonify(body), 200


def _count(rt: Runtime, recorded: list[Recorded], recovery: Recovery, delivered: int) -> None:
    """Count the delivery and its alerts; truncation is counted per occurrence (a re-sent group counts
    nothing again) and bounded (a payload cannot claim any number)."""
    metrics = rt.metrics
    metrics.notifications.labels("accepted").inc()
    for item in recorded:
        metrics.alerts.labels(item.status, "true" if item.new else "false").inc()
        for action in item.cancelled_actions:
            metrics.steps.labels(action, StepState.SKIPPED).inc()
    fetched = recorded[delivered : delivered + len(recovery.alerts)]
    recovered = min(sum(1 for item in fetched if item.new), recovery.recovered)
    if recovered:
        metrics.truncated.labels("recovered").inc(recovered)
    if recovery.unrecovered and recorded[-1].new:  # the raised truncation occurrence is new
        metrics.truncated.labels("unrecovered").inc(min(recovery.unrecovered, MAX_COUNTED_TRUNCATED))
