"""The trading bot's own HTTP API, as the runbook's controlled checks call it.

`readiness` reads ``/health/ready`` with the fields that mean degraded (``bot.health.degraded_fields``):
a 200 that reports a degraded field is ready but degraded ("investigate degraded fields", says the runbook).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import requests

from common.bot_config import HealthField
from sources.accesslog import PROBE_PRODUCT

READY_PATH = "/health/ready"
_MISSING = object()

# A deliberately invalid order: even if the bot's auth layer is broken and lets this through,
# validation rejects it, so the probe can never trade.
INVALID_PROBE_ORDER: dict[str, Any] = {
    "symbol": "PROBE-INVALID",
    "qty": "-1",
    "side": "none",
    "type": "probe",
    "time_in_force": "never",
}


@dataclass(frozen=True)
class BotAnswer:
    """What one call returned: the HTTP status (0 when there was no answer) and the JSON body if any."""

    status: int
    body: Any = None
    error: str = ""

    @property
    def answered(self) -> bool:
        return self.status > 0


@dataclass(frozen=True)
class FieldReading:
    """One configured health field: what it says (compact JSON, None when missing) and whether it is degraded."""

    name: str
    value: str | None
    degraded: bool


@dataclass(frozen=True)
class Readiness:
    """What /health/ready answered: the HTTP status (0: no answer) and each configured field, read from its
    JSON body (none when the body is not a JSON object: no verdict on the fields)."""

    status: int
    fields: tuple[FieldReading, ...] = ()
    error: str = ""

    @property
    def degraded_fields(self) -> list[str]:
        return [field.name for field in self.fields if field.degraded]

    def as_dict(self) -> dict[str, Any]:
        return {
            "http_status": self.status,
            "ready": self.status == 200,
            "degraded_fields": self.degraded_fields,
            "fields": {field.name: field.value for field in self.fields},
        }


def read_health_fields(body: Any, fields: Sequence[HealthField]) -> tuple[FieldReading, ...]:
    """Each configured field of a health payload, degraded or not; () when the payload is not a JSON object."""
    if not isinstance(body, dict):
        return ()
    readings = []
    for field in fields:
        value: Any = body
        for part in field.path.split("."):
            value = value.get(part, _MISSING) if isinstance(value, dict) else _MISSING
        if value is _MISSING:
            readings.append(FieldReading(field.label, None, field.when_missing == "degraded"))
            continue
        if field.healthy is not None:
            degraded = not any(_same(value, expected) for expected in field.healthy)
        else:
            degraded = any(_same(value, expected) for expected in field.degraded or [])
        readings.append(FieldReading(field.label, json.dumps(value, separators=(",", ":"))[:200], degraded))
    return tuple(readings)


def _same(value: Any, expected: Any) -> bool:
    """JSON equality that keeps booleans apart from numbers (``true`` is not ``1``)."""
    if isinstance(value, bool) or isinstance(expected, bool):
        return isinstance(value, bool) and isinstance(expected, bool) and value == expected
    return bool(value == expected)


class BotApi:
    def __init__(
        self, base_url: str, session: requests.Session, timeout: float, user_agent: str = PROBE_PRODUCT
    ) -> None:
        self._base = base_url.rstrip("/")
        self._session = session
        self._timeout = timeout
        self._user_agent = user_agent

    def get(self, path: str, token: str | None = None) -> BotAnswer:
        return self._call("GET", path, token)

    def post(self, path: str, body: Any, token: str | None = None) -> BotAnswer:
        return self._call("POST", path, token, body)

    def readiness(self, fields: Sequence[HealthField] = ()) -> Readiness:
        """GET /health/ready and read the configured degraded fields from its body."""
        answer = self.get(READY_PATH)
        return Readiness(answer.status, read_health_fields(answer.body, fields), answer.error)

    def trade_unauthenticated(self) -> BotAnswer:
        """POST the invalid probe order to /api/trade with no credentials at all."""
        return self._call("POST", "/api/trade", None, INVALID_PROBE_ORDER)

    def _call(self, method: str, path: str, token: str | None, body: Any = None) -> BotAnswer:
        headers = {"User-Agent": self._user_agent}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            response = self._session.request(
                method, self._base + path, json=body, headers=headers, timeout=self._timeout
            )
        except requests.RequestException as exc:
            return BotAnswer(0, error=type(exc).__name__)
        try:
            payload = response.json()
        except ValueError:
            payload = None
        return BotAnswer(response.status_code, payload)
