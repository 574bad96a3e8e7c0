"""The trading bot's own HTTP API, as the runbook's controlled checks call it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests

from sources.accesslog import PROBE_PRODUCT

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
