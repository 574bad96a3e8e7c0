"""`make demo`: inject the runbook's three incidents into the running stack and watch them being handled.

An incident counts as detected when its alert fires in Prometheus, notified when its receiver got the
page or chat message, and mitigated when the responder's mitigation step for it succeeded (and, where
it changes the bot, the bot's state shows it). Time-to-mitigate runs from the injection to the end of
that step; the ghost's is compared with the pipeline floor (for + group_wait + scrape + evaluation), and
with the floor of the design before settling (`for: 30s`). Meanwhile `races` fill races run one a second on
a profile of their own, each on an instrument it does not hold (the broker shows the fill 3 s before the
bot records it): any GhostPosition on one of them is a false SEV-1.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

import requests

from sources.instruments import instrument
from stack.observe import Observer, parse_time, step

OLD_GHOST_FOR_SECONDS = 30.0  # GhostPosition's `for` before the exporter settled the fill race
RESPONDER_GROUP_WAIT_SECONDS = 0.0  # alerts/alertmanager-automation.yml
RACE_PROFILE = "p-2"  # no runbook incident uses it
RACE_SECONDS = 3.0  # the broker shows the fill this long before the bot records it (within ghost_settle_seconds)
RACE_QUIET_SECONDS = 20.0  # after the last race: longer than its fill delay + `for` + a scrape and an evaluation


@dataclass
class Incident:
    key: str
    title: str
    kind: str
    options: dict[str, Any]
    alert: str
    severity: str
    receiver: str
    mitigation_step: str
    check_state: Callable[[Observer, Incident], str | None]
    injected_at: datetime | None = None
    detected_at: datetime | None = None
    notified_at: datetime | None = None
    mitigated_at: datetime | None = None
    actions: list[str] = field(default_factory=list)
    applied: dict[str, Any] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return None not in (self.detected_at, self.notified_at, self.mitigated_at)

    def seconds(self, at: datetime | None) -> str:
        if at is None or self.injected_at is None:
            return "-"
        return f"{(at - self.injected_at).total_seconds():.1f}s"


def _profile_inactive(observer: Observer, incident: Incident) -> str | None:
    profile = incident.options["profile"]
    return f"profile {profile} entries stopped" if observer.entries_stopped(profile) else None


def _orders_quarantined(observer: Observer, incident: Incident) -> str | None:
    profile = incident.options["profile"]
    count = observer.quarantined(profile)
    expected = incident.options["older_than_24h"]
    return f"{count} orders of {profile} quarantined (unknown)" if count >= expected else None


def _diagnosed(_observer: Observer, _incident: Incident) -> str | None:
    return "diagnosed"


def runbook_incidents() -> list[Incident]:
    return [
        Incident(
            "ghost",
            "Ghost position (broker open, bot closed)",
            "ghost",
            {"profile": "p-1", "cause": "exchange-timeout"},
            "GhostPosition",
            "sev1",
            "pagerduty",
            "deactivate",
            _profile_inactive,
        ),
        Incident(
            "stale",
            "Stale pending orders",
            "stale-orders",
            {"profile": "p-3", "count": 6, "age_seconds": 1200, "missing_at_broker": 2, "older_than_24h": 2},
            "StalePendingOrders",
            "sev2",
            "slack",
            "quarantine",
            _orders_quarantined,
        ),
        Incident(
            "auth",
            "Auth failures (API/websocket)",
            "auth-failures",
            {"share": 0.6, "channel": "both", "reason": "expired", "scope": "clients"},
            "AuthFailureSpike",
            "sev2",
            "slack",
            "diagnosis",
            _diagnosed,
        ),
    ]


def race_symbol(n: int) -> str:
    """The n-th fill race's instrument: a ticker nobody holds (RAA, RAB, ...)."""
    return f"R{chr(65 + n // 26 % 26)}{chr(65 + n % 26)}"


@dataclass
class Races:
    """Fill races run beside the incidents, and the false SEV-1s they raised."""

    wanted: int
    injected: list[tuple[str, str]] = field(default_factory=list)  # account, symbol
    last_at: float = 0.0
    false_sev1: set[tuple[str, str]] = field(default_factory=set)

    @property
    def done(self) -> bool:
        return len(self.injected) >= self.wanted and time.monotonic() - self.last_at >= RACE_QUIET_SECONDS


class Demo:
    def __init__(self, observer: Observer, control_url: str, out: TextIO = sys.stdout, races: int = 0) -> None:
        self.observer = observer
        self.control_url = control_url
        self.out = out
        self.incidents = runbook_incidents()
        self.timeline: list[tuple[datetime, str]] = []
        self.unexpected_sev1: set[str] = set()
        self.unexpected_crypto: set[str] = set()
        self.durations = observer.rule_durations()
        self.started = datetime.now(UTC)
        self.races = Races(races)

    def note(self, text: str) -> None:
        now = datetime.now(UTC)
        self.timeline.append((now, text))
        self.out.write(f"\r{now:%H:%M:%S} {text}\033[K\n" if self.out.isatty() else f"{now:%H:%M:%S} {text}\n")
        self.out.flush()

    def inject_all(self) -> None:
        for incident in self.incidents:
            answer = requests.post(f"{self.control_url}/faults/{incident.kind}", json=incident.options, timeout=30)
            answer.raise_for_status()
            incident.applied = answer.json()
            incident.injected_at = datetime.now(UTC)
            self.note(f"injected {incident.kind} {incident.options}")

    def watch(self, timeout: float) -> bool:
        """Poll until every incident is detected and mitigated, or `timeout` seconds pass."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._observe()
            self._race()
            if all(incident.done for incident in self.incidents) and self.races.done:
                return True
            self._progress(deadline - time.monotonic())
            time.sleep(1.0)
        return False

    def _race(self) -> None:
        """Inject the next fill race, if any are left."""
        races = self.races
        if len(races.injected) >= races.wanted:
            return
        symbol = race_symbol(len(races.injected))
        options = {"profile": RACE_PROFILE, "symbol": symbol, "seconds": RACE_SECONDS}
        answer = requests.post(f"{self.control_url}/faults/fill-race", json=options, timeout=30)
        answer.raise_for_status()
        races.injected.append((str(answer.json()["account"]), symbol))
        races.last_at = time.monotonic()

    def _observe(self) -> None:
        firing = self.observer.alerts("firing")
        for alert in firing:
            race = (alert.labels.get("account", ""), alert.labels.get("symbol", ""))
            if alert.name == "GhostPosition" and race in self.races.injected and race not in self.races.false_sev1:
                self.note(f"FALSE sev1 GhostPosition on fill race {race}")
                self.races.false_sev1.add(race)
        expected = {incident.alert for incident in self.incidents}
        for alert in firing:
            if alert.severity == "sev1" and alert.name not in expected:
                if alert.name not in self.unexpected_sev1:
                    self.note(f"UNEXPECTED sev1 {alert.name} {alert.labels}")
                self.unexpected_sev1.add(alert.name)
            if instrument(alert.labels.get("symbol") or "-").crypto:  # the crypto profiles' trading pages nobody
                key = f"{alert.name} {alert.labels.get('symbol')}"
                if key not in self.unexpected_crypto:
                    self.note(f"UNEXPECTED crypto alert {alert.name} {alert.labels}")
                self.unexpected_crypto.add(key)
        for incident in self.incidents:
            self._observe_incident(incident, [a for a in firing if a.name == incident.alert])

    def _observe_incident(self, incident: Incident, firing: list[Any]) -> None:
        if incident.detected_at is None and firing:
            alert = firing[0]
            pending_since = alert.active_at or datetime.now(UTC)
            incident.detected_at = pending_since + timedelta(seconds=self.durations.get(incident.alert, 0.0))
            labels = {k: v for k, v in alert.labels.items() if k not in ("alertname", "severity")}
            self.note(f"{incident.alert} firing ({incident.severity}) {labels}")
        if incident.notified_at is None and self._notified(incident):
            incident.notified_at = datetime.now(UTC)
            self.note(f"{incident.receiver} received {incident.alert}")
        if incident.mitigated_at is None:
            self._check_mitigated(incident)

    def _notified(self, incident: Incident) -> bool:
        bodies = self.observer.sinks.bodies(incident.receiver)
        # Pages name the alert; chat messages link its runbook anchor. The first one can only be the firing one.
        return any(incident.alert.lower() in str(body).lower() for body in bodies)

    def _check_mitigated(self, incident: Incident) -> None:
        for run in self.observer.runs(incident.alert):
            done = step(run, incident.mitigation_step)
            if done is None or done["state"] != "succeeded":
                continue
            state = incident.check_state(self.observer, incident)
            if state is None:
                continue
            incident.mitigated_at = parse_time(done["finished_at"])
            incident.actions = [f"{s['name']}: {s['state']}" for s in run["steps"]]
            category = (done.get("output") or {}).get("category") if isinstance(done.get("output"), dict) else None
            detail = f"{state} (category: {category})" if category else state
            self.note(f"responder mitigated {incident.alert}: {detail}")
            return

    def _progress(self, left: float) -> None:
        if not self.out.isatty():
            return
        parts = [
            f"{i.key}: {'mitigated' if i.done else 'firing' if i.detected_at else 'waiting'}" for i in self.incidents
        ]
        self.out.write(f"\r  {' | '.join(parts)}  ({left:.0f}s left)\033[K")
        self.out.flush()

    def report(self, interval_seconds: float) -> str:
        """The summary table, the ghost's time-to-mitigate against its floor, and the verdict."""
        rows = [("incident", "alert", "severity", "detected", "notified", "mitigated", "time-to-mitigate", "actions")]
        for i in self.incidents:
            rows.append(
                (
                    i.title,
                    i.alert,
                    i.severity.upper().replace("SEV", "SEV-"),
                    i.seconds(i.detected_at),
                    i.seconds(i.notified_at),
                    "yes" if i.done else "NO",
                    i.seconds(i.mitigated_at),
                    ", ".join(i.actions) or "-",
                )
            )
        lines = [_table(rows), ""]
        lines += self._ghost_lines(interval_seconds)
        fills = self.observer.crypto_fills(self.started)
        if fills:
            verdict = f"alerts: {', '.join(sorted(self.unexpected_crypto))}" if self.unexpected_crypto else "no alert"
            lines.append(f"crypto profiles traded throughout: {fills} crypto fills (fees paid in the asset, dust after "
                         f"sales), {verdict}")
        if self.unexpected_sev1:
            lines.append(f"unexpected sev1 alerts: {', '.join(sorted(self.unexpected_sev1))}")
        return "\n".join(lines)

    def _ghost_lines(self, interval_seconds: float) -> list[str]:
        """The ghost's time-to-mitigate against today's floor and the old design's, and the fill races."""
        lines: list[str] = []
        ghost = self.incidents[0]
        hold = self.durations.get("GhostPosition", 0.0)
        pipeline = RESPONDER_GROUP_WAIT_SECONDS + 2 * interval_seconds
        terms = f"group_wait 0s + scrape {interval_seconds:g}s + evaluation {interval_seconds:g}s, worst-case alignment"
        if ghost.mitigated_at and ghost.injected_at:
            took = (ghost.mitigated_at - ghost.injected_at).total_seconds()
            lines.append(f"ghost time-to-mitigate {took:.1f}s against a pipeline floor of {hold + pipeline:.0f}s"
                         f" (for {hold:g}s + {terms})")
        lines.append(f"old pipeline floor {OLD_GHOST_FOR_SECONDS + pipeline:.0f}s (for {OLD_GHOST_FOR_SECONDS:g}s"
                     f" + {terms}), before the exporter settled fills in flight")
        if self.races.wanted:
            lines.append(f"fill races: {len(self.races.injected)} runs (the broker shows the fill {RACE_SECONDS:g}s"
                         f" before the bot records it), {len(self.races.false_sev1)} false SEV-1")
        return lines

    @property
    def succeeded(self) -> bool:
        unexpected = self.unexpected_sev1 or self.unexpected_crypto or self.races.false_sev1
        return all(incident.done for incident in self.incidents) and not unexpected


def _table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[n]) for row in rows) for n in range(len(rows[0]))]
    lines = [" | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "-+-".join("-" * width for width in widths))
    return "\n".join(lines)
