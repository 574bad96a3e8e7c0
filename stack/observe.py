"""Read what the stack did: alerts in Prometheus, runs in the responder, the bot's state, the sinks."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import requests

from sources.botdata import BotData
from sources.instruments import instrument
from stack.sinks import SinkServer


@dataclass(frozen=True)
class FiringAlert:
    name: str
    severity: str
    labels: dict[str, str]
    active_at: datetime | None
    annotations: dict[str, str] = field(default_factory=dict)


class Observer:
    def __init__(
        self,
        prometheus_url: str,
        responder_url: str,
        operator_token: str,
        bot: BotData,
        sinks: SinkServer,
        session: requests.Session,
    ) -> None:
        self._prometheus = prometheus_url
        self._responder = responder_url
        self._headers = {"Authorization": f"Bearer {operator_token}"}
        self._bot = bot
        self.sinks = sinks
        self._session = session

    def alerts(self, state: str = "firing") -> list[FiringAlert]:
        """Alerts in `state` (firing or pending) according to Prometheus."""
        answer = self._session.get(f"{self._prometheus}/api/v1/alerts", timeout=5)
        answer.raise_for_status()
        found = []
        for alert in answer.json()["data"]["alerts"]:
            if alert["state"] != state:
                continue
            labels = dict(alert["labels"])
            active = alert.get("activeAt")
            found.append(
                FiringAlert(
                    labels.get("alertname", ""),
                    labels.get("severity", ""),
                    labels,
                    datetime.fromisoformat(active.replace("Z", "+00:00")) if active else None,
                    dict(alert.get("annotations") or {}),
                )
            )
        return found

    def rule_durations(self) -> dict[str, float]:
        """The `for` of every alerting rule Prometheus loaded, in seconds, by alert name."""
        answer = self._session.get(f"{self._prometheus}/api/v1/rules", params={"type": "alert"}, timeout=5)
        answer.raise_for_status()
        return {
            rule["name"]: float(rule.get("duration", 0))
            for group in answer.json()["data"]["groups"]
            for rule in group["rules"]
        }

    def query(self, expr: str) -> list[dict[str, Any]]:
        answer = self._session.get(f"{self._prometheus}/api/v1/query", params={"query": expr}, timeout=5)
        answer.raise_for_status()
        result: list[dict[str, Any]] = answer.json()["data"]["result"]
        return result

    def targets_up(self) -> int:
        """How many of the stack's own targets (exporters, responders) Prometheus scraped successfully."""
        return len(self.query('up{job=~"tradingbot-.*"} == 1'))

    def runs(self, alertname: str) -> list[dict[str, Any]]:
        answer = self._session.get(
            f"{self._responder}/runs", params={"alertname": alertname, "limit": "50"}, headers=self._headers, timeout=5
        )
        answer.raise_for_status()
        runs: list[dict[str, Any]] = answer.json()["runs"]
        return runs

    def decide(self, step_id: int, decision: str, by: str, reason: str = "") -> requests.Response:
        """Approve or reject a step awaiting approval through the responder's operator API."""
        body = {"decision": decision, "by": by, "reason": reason}
        return self._session.post(f"{self._responder}/approvals/{step_id}", json=body, headers=self._headers,
                                  timeout=10)

    def enable_profile(self, profile: str, by: str, reason: str = "") -> requests.Response:
        """Ask the responder to re-enable `profile` (it checks position parity first)."""
        return self._session.post(f"{self._responder}/profiles/{profile}/enable", json={"by": by, "reason": reason},
                                  headers=self._headers, timeout=10)

    def crypto_fills(self, since: datetime) -> int:
        """Filled crypto orders the bot recorded since `since` (any spelling)."""
        return sum(count for symbol, count in self._bot.filled_orders(since).items() if instrument(symbol).crypto)

    def profile_status(self, profile: str) -> str | None:
        """The raw value the profile's entries state reads back (e.g. active / inactive)."""
        found = self._bot.profile(profile)
        return found.entries.value if found else None

    def entries_stopped(self, profile: str) -> bool:
        found = self._bot.profile(profile)
        return found is not None and found.entries.state == "stopped"

    def quarantined(self, profile: str) -> int:
        """How many of the profile's orders are quarantined."""
        return len(self._bot.quarantined_orders(profile, limit=100_000))


def step(run: dict[str, Any], name: str) -> dict[str, Any] | None:
    """The step called `name` in a run view, if it has one."""
    return next((s for s in run["steps"] if s["name"] == name), None)


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
