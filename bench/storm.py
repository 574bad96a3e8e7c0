"""Alert storm: N ghost alerts at once; every occurrence must be recorded within a few seconds, and the
blast-radius budget must hold: only `budget.max_deactivations` profiles deactivated, every other
deactivation parked for approval (budget_exhausted). Peak RSS of every process is sampled.

Two paths, each on a fresh ledger: "direct" sends the N webhook deliveries Alertmanager's responder route
produces (group_by '...': one per alert) all at once, each on its own connection; "alertmanager" posts
the N alerts to a real Alertmanager 0.25 (the committed automation config, alerts/alertmanager-automation.yml)
and lets it deliver them.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import requests

from bench import pg, procs
from bench.openloop import run_open_loop
from bench.services import Process, http_ok, process, python
from bench.simulator import control
from common.config import load_config
from sources.botdata import BotData, open_bot_data
from stack.ports import HOST, free_port
from stack.render import AUTOMATION_ALERTMANAGER, alertmanager_config, write_yaml
from stack.services import child_env
from stack.sinks import SinkServer


class PeakMemory:
    """Samples the RSS of process trees every `every` seconds and keeps each process's peak; `cpu()`
    gives the CPU seconds each tree used since the sampling started."""

    def __init__(self, roots: dict[str, int], every: float = 0.25) -> None:
        self._roots = roots
        self._every = every
        self.peak: dict[str, float] = {}
        self._cpu_start = {role: procs.cpu_seconds(pid) for role, pid in roots.items()}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def cpu(self) -> dict[str, float]:
        return {role: round(procs.cpu_seconds(pid) - self._cpu_start[role], 2) for role, pid in self._roots.items()}

    def _run(self) -> None:
        while not self._stop.is_set():
            for role, pid in self._roots.items():
                for n, use in enumerate(procs.tree_usage(pid)):
                    key = role if n == 0 else f"{role} worker {n}"
                    self.peak[key] = max(self.peak.get(key, 0.0), round(use.rss_mib, 1))
            self._stop.wait(self._every)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


def ghost_alerts(bot: BotData, count: int) -> list[dict[str, Any]]:
    """One GhostPosition alert per profile (its account and open symbol), as Prometheus would send it."""
    first: dict[str, tuple[str, str]] = {}
    for position in bot.open_positions(limit=1_000_000):
        if position.profile is not None and position.account is not None:
            first.setdefault(position.profile, (position.account, position.symbol))
    rows = [(profile, *first[profile]) for profile in sorted(first)][:count]
    starts = datetime.now(UTC).isoformat()
    return [{"labels": {"alertname": "GhostPosition", "severity": "sev1", "profile": profile, "account": account,
                        "symbol": symbol},
             "annotations": {"summary": f"Ghost position {symbol} on {account} ({profile})"},
             "startsAt": starts, "generatorURL": "http://prometheus.bench/graph"} for profile, account, symbol in rows]


@contextmanager
def alertmanager(workdir: Path, responder_url: str, token: str) -> Iterator[tuple[Process, str]]:
    sinks = SinkServer(HOST, free_port()).start()
    port = free_port()
    config = alertmanager_config(workdir / "am", {"responder": [responder_url + "/alerts"]},
                                 sinks.url, {"responder_token": token}, AUTOMATION_ALERTMANAGER)
    path = write_yaml(workdir / "am" / "alertmanager.yml", config)
    url = f"http://{HOST}:{port}"
    argv = ["prometheus-alertmanager", f"--config.file={path}", f"--storage.path={workdir / 'am' / 'data'}",
            f"--web.listen-address={HOST}:{port}", f"--web.external-url={url}", "--log.level=warn",
            "--cluster.listen-address="]
    try:
        with process("alertmanager", argv, workdir / "alertmanager.log", child_env({}),
                     http_ok(url + "/-/ready")) as running:
            yield running, url
    finally:
        sinks.stop()


def _ledger(ledger: str) -> dict[str, Any]:
    with psycopg.connect(pg.conninfo(ledger)) as conn:
        row = conn.execute(
            "SELECT count(*), max(received_at) FROM responder_alerts WHERE alertname = 'GhostPosition'").fetchone()
        recorded, last = row if row else (0, None)
        states: dict[str, int] = dict(conn.execute(
            "SELECT state || coalesce('/' || approval_reason, ''), count(*) FROM responder_steps"
            " WHERE action = 'deactivate_profile' GROUP BY 1").fetchall())
    return {"recorded": int(recorded), "last_received_at": last, "deactivate_steps": states}


def _recorded_per_second(ledger: str, fired: datetime) -> dict[int, int]:
    """How many occurrences were recorded in each second after the alerts were fired."""
    with psycopg.connect(pg.conninfo(ledger)) as conn:
        rows = conn.execute(
            "SELECT floor(extract(epoch FROM received_at - %s))::int, count(*) FROM responder_alerts"
            " WHERE alertname = 'GhostPosition' GROUP BY 1 ORDER BY 1", (fired,)).fetchall()
    return {int(second): int(count) for second, count in rows}


def notifications(alerts: list[dict[str, Any]], receiver: str = "responder") -> list[bytes]:
    """The webhook bodies Alertmanager sends on the responder route (group_by '...'): one per alert."""
    bodies = []
    for alert in alerts:
        labels = alert["labels"]
        fingerprint = hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()[:16]
        key = "{}/{}:{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"
        bodies.append(json.dumps({
            "receiver": receiver, "status": "firing", "version": "4", "groupKey": key, "truncatedAlerts": 0,
            "alerts": [{"status": "firing", "labels": labels, "annotations": alert["annotations"],
                        "startsAt": alert["startsAt"], "endsAt": "0001-01-01T00:00:00Z",
                        "generatorURL": alert["generatorURL"], "fingerprint": fingerprint}],
            "groupLabels": labels, "commonLabels": labels, "commonAnnotations": alert["annotations"],
            "externalURL": "http://alertmanager.bench:9093",
        }).encode())
    return bodies


def _deliver_directly(url: str, token: str, bodies: list[bytes]) -> dict[str, Any]:
    """All bodies at once, each on its own connection, as Alertmanager's flush would send them."""
    queue = iter(bodies)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}",
               "User-Agent": "Alertmanager/0.25.0"}
    sent = run_open_loop(url + "/alerts", len(bodies) / 0.01, 0.01, lambda: next(queue), headers,
                         max_connections=len(bodies))
    return {"acknowledged": sent.statuses.get(200, 0), "errors": sent.errors, "connections": sent.connections,
            "slowest_ack_ms": round(max(sent.latencies_ms, default=0.0), 1)}


def _alertmanager_failures(log: Path) -> int:
    try:
        return log.read_text(encoding="utf-8", errors="replace").count("Notify for alerts failed")
    except OSError:
        return 0


PATHS = {"alertmanager": "POST /api/v2/alerts to Alertmanager 0.25 -> one webhook per alert -> responder",
         "direct": "one webhook delivery per alert, all at once, each on its own connection"}
UNDECIDED = {"pending", "running", "approved"}


def _decided(steps: dict[str, int], alerts: int) -> bool:
    return sum(steps.values()) >= alerts and not UNDECIDED & set(steps)


def _wait(ledger: str, done: Any, started: float, timeout: float, every: float) -> dict[str, Any]:
    """Poll the ledger until `done(state)` or `timeout` seconds after `started`; return the last state."""
    state = _ledger(ledger)
    while not done(state) and time.monotonic() - started < timeout:
        time.sleep(every)
        state = _ledger(ledger)
    return state


def _reset_profiles(bot: BotData) -> int:
    """How many profiles the storm deactivated; reactivates them for the next run."""
    now = datetime.now(UTC)
    stopped = 0
    for profile in sorted({pair.profile for pair in bot.profile_accounts()}):
        found = bot.profile(profile)
        if found is not None and found.entries.state == "stopped":
            stopped += 1
            bot.resume_entries(profile, now)
    return stopped


def run(config: Path, sections: dict[str, Any], env: dict[str, str], ledger: str, workdir: Path, alerts: int,
        simulator: Process, via: str, settle_timeout_s: float) -> dict[str, Any]:
    """Fire `alerts` ghost alerts `via` "direct" (webhook deliveries) or "alertmanager"; wait until all are
    recorded, then (up to `settle_timeout_s`) until every deactivation is decided."""
    control(sections, "/settings", {"broker_latency_ms": 0})
    bot = open_bot_data(load_config(config).bot_db)
    try:
        body = ghost_alerts(bot, alerts)
        return _storm(config, sections, env, ledger, workdir, body, simulator, via, settle_timeout_s, bot)
    finally:
        bot.dispose()


def _storm(config: Path, sections: dict[str, Any], env: dict[str, str], ledger: str, workdir: Path,
           body: list[dict[str, Any]], simulator: Process, via: str, settle_timeout_s: float,
           bot: BotData) -> dict[str, Any]:
    url, token = f"http://{sections['responder']['listen']}", env["RESPONDER_WEBHOOK_TOKEN"]
    result: dict[str, Any] = {"alerts": len(body), "via": via, "path": PATHS[via]}
    with ExitStack() as stack:
        responder = stack.enter_context(process(
            "responder", python("responder", "--config", str(config)), workdir / f"storm-{via}-responder.log",
            child_env(env), http_ok(url + "/health/ready")))
        roots = {"responder": responder.pid, "simulator": simulator.pid}
        if via == "alertmanager":
            am, am_url = stack.enter_context(alertmanager(workdir, url, token))
            roots["alertmanager"] = am.pid
        memory = stack.enter_context(PeakMemory(roots))
        fired, started = datetime.now(UTC), time.monotonic()
        if via == "alertmanager":
            requests.post(f"{am_url}/api/v2/alerts", json=body, timeout=30).raise_for_status()
        else:
            result["delivery"] = _deliver_directly(url, token, notifications(body))
        state = _wait(ledger, lambda s: s["recorded"] >= len(body), started, 40, 0.1)
        last = state["last_received_at"]
        result.update(recorded=state["recorded"], all_recorded_s=(last - fired).total_seconds() if last else None,
                      recorded_per_second=_recorded_per_second(ledger, fired),
                      cpu_seconds_while_recording=memory.cpu())
        if via == "alertmanager":
            result["alertmanager_failed_notifications"] = _alertmanager_failures(workdir / "alertmanager.log")
        state = _wait(ledger, lambda s: _decided(s["deactivate_steps"], len(body)), started, settle_timeout_s, 0.5)
        settled_s = time.monotonic() - started
        deactivated = _reset_profiles(bot)
    return {**result, **_budget(state["deactivate_steps"], len(body), deactivated, settled_s,
                                sections["responder"]["budget"]["max_deactivations"]), "peak_rss_mib": memory.peak}


def _budget(steps: dict[str, int], alerts: int, deactivated: int, settled_s: float, budget: int) -> dict[str, Any]:
    decided = _decided(steps, alerts)
    return {
        "deactivate_steps": steps,
        "all_decided_s": round(settled_s, 1) if decided else None,
        "budget_max_deactivations": budget,
        "profiles_deactivated": deactivated,
        "budget_applied": decided and deactivated == budget and steps.get("succeeded", 0) == budget
        and steps.get("awaiting_approval/budget_exhausted", 0) == alerts - budget,
    }
