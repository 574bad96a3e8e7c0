"""Alert storm: N ghost alerts fired at once into the real Alertmanager, which delivers one notification
per alert to the responder (route group_by '...', group_wait 0s); every occurrence must be recorded within
a few seconds, and the blast-radius budget must hold: only `budget.max_deactivations` profiles deactivated,
every other deactivation parked for approval (budget_exhausted). Peak RSS of every process is sampled.
"""

from __future__ import annotations

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
from bench.services import HOST, Process, child_env, free_port, http_ok, process, python, write_yaml
from bench.simulator import control
from stack.render import alertmanager_config
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


def ghost_alerts(bot_db: str, count: int) -> list[dict[str, Any]]:
    """One GhostPosition alert per profile (its account and open symbol), as Prometheus would send it."""
    with psycopg.connect(pg.conninfo(bot_db)) as conn:
        rows = conn.execute(
            "SELECT p.id, p.account_id, min(pos.symbol) FROM profiles p JOIN positions pos ON pos.profile_id = p.id"
            " WHERE pos.status = 'open' GROUP BY p.id, p.account_id ORDER BY p.id LIMIT %s", (count,)
        ).fetchall()
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
                                 sinks.url, {"responder_token": token})
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


def run(config: Path, sections: dict[str, Any], env: dict[str, str], ledger: str, workdir: Path, alerts: int,
        simulator: Process, record_target_s: float, settle_timeout_s: float) -> dict[str, Any]:
    responder_url = f"http://{sections['responder']['listen']}"
    control(sections, "/settings", {"broker_latency_ms": 0})
    budget = sections["responder"]["budget"]["max_deactivations"]
    body = ghost_alerts(sections["bot_db"]["url"], alerts)
    with ExitStack() as stack:
        responder = stack.enter_context(process(
            "responder", python("responder", "--config", str(config)), workdir / "storm-responder.log",
            child_env(env), http_ok(responder_url + "/health/ready")))
        am, am_url = stack.enter_context(alertmanager(workdir, responder_url, env["RESPONDER_WEBHOOK_TOKEN"]))
        memory = stack.enter_context(PeakMemory({"responder": responder.pid, "simulator": simulator.pid,
                                                 "alertmanager": am.pid}))
        fired = datetime.now(UTC)
        started = time.monotonic()
        requests.post(f"{am_url}/api/v2/alerts", json=body, timeout=30).raise_for_status()
        state = _ledger(ledger)
        while state["recorded"] < len(body) and time.monotonic() - started < max(30.0, 6 * record_target_s):
            time.sleep(0.1)
            state = _ledger(ledger)
        recorded_s = (state["last_received_at"] - fired).total_seconds() if state["last_received_at"] else None
        recorded = state["recorded"]
        cpu_while_recording = memory.cpu()
        per_second = _recorded_per_second(ledger, fired)
        while time.monotonic() - started < settle_timeout_s:
            steps = state["deactivate_steps"]
            if sum(steps.values()) >= len(body) and not {"pending", "running", "approved"} & set(steps):
                break
            time.sleep(0.5)
            state = _ledger(ledger)
        settled_s = time.monotonic() - started
        with psycopg.connect(pg.conninfo(sections["bot_db"]["url"])) as conn:
            inactive = conn.execute("SELECT count(*) FROM profiles WHERE status = 'inactive'").fetchone()
        steps = state["deactivate_steps"]
    deactivated = int(inactive[0]) if inactive else -1
    return {
        "alerts": len(body),
        "path": "POST /api/v2/alerts to Alertmanager 0.25 -> one webhook per alert -> responder (PostgreSQL ledger)",
        "recorded": recorded,
        "all_recorded_s": recorded_s,
        "recorded_per_second": per_second,
        "cpu_seconds_while_recording": cpu_while_recording,
        "deactivate_steps": steps,
        "all_decided_s": round(settled_s, 1),
        "budget_max_deactivations": budget,
        "profiles_deactivated": deactivated,
        "budget_applied": deactivated == budget and steps.get("succeeded", 0) == budget
        and steps.get("awaiting_approval/budget_exhausted", 0) == len(body) - budget,
        "peak_rss_mib": memory.peak,
    }
