"""Alerts cut by Alertmanager's ``max_alerts`` (``truncatedAlerts > 0``): fetch them back, or raise it.

Choice (documented in docs/responder.md): the responder asks each of ``alertmanager_urls`` in turn for
``GET /api/v2/alerts`` filtered by the group's labels (and the receiver), keeps the active alerts the
payload did not carry that really belong to the group (every group label equal, routed to the
delivery's receiver: what the API answers is checked, not trusted), and records them with the rest of
the delivery. When fewer than
``truncatedAlerts`` come back (no URL configured, Alertmanager unreachable, or the cut alerts were
resolved ones, which the API no longer lists) the delivery is still recorded and acknowledged (a
retry cannot un-truncate it), ``tradingbot_responder_truncated_alerts_total{outcome="unrecovered"}``
counts the missing ones and a ``ResponderTruncatedAlerts`` occurrence is recorded in the same
transaction; its playbook notifies people. Nothing is silently ignored.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import requests
from pydantic import ValidationError

from responder.payload import Alert, ApiAlert, Notification

TRUNCATED_ALERTNAME = "ResponderTruncatedAlerts"
# A payload may claim any number of cut alerts; no group holds more than this (the payload's own limit).
MAX_COUNTED_TRUNCATED = 10_000


@dataclass(frozen=True)
class Recovery:
    alerts: list[Alert] = field(default_factory=list)
    recovered: int = 0
    unrecovered: int = 0
    detail: str = ""


@dataclass(frozen=True)
class Listed:
    """An alert Alertmanager's API listed: its state and the firing webhook alert it stands for."""

    state: str
    alert: Alert


def _matcher(name: str, value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'{name}="{escaped}"'


def _fetch(url: str, notification: Notification, session: requests.Session, timeout: float) -> list[Listed]:
    params: list[tuple[str, str]] = [("filter", _matcher(k, v)) for k, v in sorted(notification.group_labels.items())]
    params += [("active", "true"), ("silenced", "false"), ("inhibited", "false")]
    if notification.receiver:
        params.append(("receiver", re.escape(notification.receiver)))
    response = session.get(url.rstrip("/") + "/api/v2/alerts", params=params, timeout=timeout)
    response.raise_for_status()
    body = response.json()
    if not isinstance(body, list):
        raise ValueError("expected a JSON list")
    found = []
    for item in body:
        try:  # an item that is not a valid webhook alert (e.g. no alertname) is skipped: it counts as missing
            listed = ApiAlert.model_validate(item)
            if in_group(listed, notification):
                found.append(Listed(listed.state, listed.as_firing()))
        except ValidationError:
            continue
    return found


def in_group(listed: ApiAlert, notification: Notification) -> bool:
    """True when Alertmanager would put `listed` in the notification's group: every group label equal, and
    routed to the notification's receiver. Anything else the API returned is not this group's."""
    if any(listed.labels.get(name) != value for name, value in notification.group_labels.items()):
        return False
    return not notification.receiver or notification.receiver in listed.receiver_names


def recover(
    notification: Notification, urls: Sequence[str], session: requests.Session, timeout: float = 2.0
) -> Recovery:
    """Fetch the alerts `max_alerts` cut from the payload; report how many stay missing."""
    wanted = notification.truncated_alerts
    if wanted == 0:
        return Recovery()
    known = {alert.fingerprint for alert in notification.alerts}
    problems = []
    for url in urls:
        try:
            listed = _fetch(url, notification, session, timeout)
        except (requests.RequestException, ValueError) as exc:
            problems.append(f"{url}: {type(exc).__name__}")
            continue
        extra = [item.alert for item in listed if item.alert.fingerprint not in known and item.state == "active"]
        missing = max(0, wanted - len(extra))
        detail = f"{len(extra)} fetched from {url}" + (f", {missing} not listed (resolved?)" if missing else "")
        return Recovery(extra, min(len(extra), wanted), missing, detail)
    detail = "; ".join(problems) if problems else "no alertmanager_urls configured"
    return Recovery([], 0, wanted, detail)


def truncation_alert(notification: Notification, recovery: Recovery) -> Alert:
    """The occurrence that raises unrecovered truncation (deduplicated per group and group start)."""
    digest = hashlib.sha256(notification.group_key.encode("utf-8")).hexdigest()[:16]
    starts = min((a.starts_at for a in notification.alerts), default=None)
    return Alert.model_validate(
        {
            "status": "firing",
            "labels": {"alertname": TRUNCATED_ALERTNAME, "severity": "sev2", "receiver": notification.receiver[:200]},
            "annotations": {
                "summary": f"{recovery.unrecovered} alerts of an Alertmanager group were cut by max_alerts "
                "and could not be fetched back",
                "description": f"group {notification.group_key[:300]}: {recovery.detail}",
            },
            "startsAt": (starts.isoformat() if starts else "1970-01-01T00:00:00+00:00"),
            "endsAt": "0001-01-01T00:00:00Z",
            "fingerprint": f"truncated-{digest}",
        }
    )
