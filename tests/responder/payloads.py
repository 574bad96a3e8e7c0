"""Alertmanager v4 payloads for tests, shaped like the recorded ones in fixtures/."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures"
ZERO = "0001-01-01T00:00:00Z"


def recorded(name: str) -> dict[str, Any]:
    """A captured delivery: {"path", "headers", "body"}."""
    data: dict[str, Any] = json.loads((FIXTURES / f"am-{name}.json").read_text(encoding="utf-8"))
    return data


def fingerprint(labels: dict[str, str]) -> str:
    text = json.dumps(labels, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def alert(
    labels: dict[str, str],
    status: str = "firing",
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    starts = starts_at or datetime(2026, 11, 24, 23, 23, 28, 426000, tzinfo=UTC)
    ends = ends_at.isoformat().replace("+00:00", "Z") if ends_at else ZERO
    if status == "resolved" and ends_at is None:
        ends = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return {
        "status": status,
        "labels": labels,
        "annotations": annotations or {"summary": f"{labels.get('alertname')} test alert"},
        "startsAt": starts.isoformat().replace("+00:00", "Z"),
        "endsAt": ends,
        "generatorURL": "http://prometheus.example:9090/graph",
        "fingerprint": fingerprint(labels),
    }


def notification(*alerts: dict[str, Any], truncated: int = 0, group: dict[str, str] | None = None) -> dict[str, Any]:
    firing = any(a["status"] == "firing" for a in alerts)
    first = alerts[0]["labels"] if alerts and isinstance(alerts[0]["labels"], dict) else {}
    group = group if group is not None else {"alertname": str(first.get("alertname", ""))}
    common = dict(alerts[0]["labels"]) if alerts else {}
    for item in alerts[1:]:
        common = {k: v for k, v in common.items() if item["labels"].get(k) == v}
    return {
        "receiver": "responder",
        "status": "firing" if firing else "resolved",
        "alerts": list(alerts),
        "groupLabels": group,
        "commonLabels": common,
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example:9093",
        "version": "4",
        "groupKey": "{}:" + json.dumps(group, sort_keys=True),
        "truncatedAlerts": truncated,
    }


def ghost_labels(profile: str = "p-1", account: str = "acct-1", symbol: str = "AAPL") -> dict[str, str]:
    return {"alertname": "GhostPosition", "severity": "sev1", "account": account, "symbol": symbol, "profile": profile}
