"""Responder ingest: sustained notifications/s (wrk, closed loop) and p99 acknowledgement latency at a fixed
rate (open loop), each against a bare Flask endpoint under the same gunicorn settings, alternately.

The responder runs with the PostgreSQL ledger and ``mode: off``: every alert of every delivery is recorded in
one transaction before the 200, and no playbook run starts, so executors do not compete with ingest for the
two cores (runs and executors are measured by the alert storm).
"""

from __future__ import annotations

import secrets
import statistics
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from bench import pg, procs
from bench.openloop import OpenLoopResult, run_open_loop
from bench.payloads import BodyStream, recorded_bodies, templates
from bench.services import http_ok, process, python
from bench.setup import bench_sections, listen_url, local_secrets, write_config
from bench.stalled import stalled_clients
from bench.stats import percentile, ratio
from bench.wrk import WrkResult, lua_script, run_wrk
from stack.ports import HOST, free_port
from stack.services import child_env


@dataclass(frozen=True)
class IngestSizes:
    seconds: float = 8.0  # one closed-loop round
    rounds: int = 3
    connections: int = 16
    rate: float = 200.0  # the open-loop rate for the latency figure
    rate_seconds: float = 15.0
    stalled: int = 200  # connections that sent half a request and went silent, during the stalled run


def _bare_argv(port: int, workers: int) -> list[str]:
    """The bare endpoint under the responder's server: its worker class and front (threads: $BENCH_THREADS)."""
    return python("gunicorn", "-w", str(workers), "-k", "bench.bare.Worker", "--keep-alive", "5",
                  "-b", f"{HOST}:{port}", "--no-control-socket", "--log-level", "warning", "bench.bare:front")


def _ledger_count(url: str, tag: str) -> int:
    with psycopg.connect(pg.conninfo(url)) as conn:
        row = conn.execute("SELECT count(*) FROM responder_alerts WHERE fingerprint LIKE %s", (tag + "%",)).fetchone()
    return int(row[0]) if row else 0


def _alerts_in(bodies: list[dict[str, Any]], sequence_numbers: list[int]) -> int:
    """How many alerts the BodyStream bodies with these sequence numbers (0-based) carried."""
    sizes = [len(body["alerts"]) for body in bodies]
    return sum(sizes[(n + 1) % len(sizes)] for n in sequence_numbers)


def run(config: Path, workdir: Path, sizes: IngestSizes) -> dict[str, Any]:
    bodies = recorded_bodies()
    parts = templates(bodies)
    env = local_secrets()
    token = env["RESPONDER_WEBHOOK_TOKEN"]
    with ExitStack() as stack:
        ledger = stack.enter_context(pg.temporary_database("tbbench_ledger"))
        sections = bench_sections(config, workdir, f"sqlite:///{workdir / 'bot.sqlite3'}", ledger)
        sections["responder"]["mode"] = "off"
        workers, threads = sections["responder"]["workers"], sections["responder"]["threads"]
        path = write_config(workdir, sections, "ingest.yml")
        responder_url = listen_url(sections, "responder")
        responder = stack.enter_context(process(
            "responder", python("responder", "--config", str(path)), workdir / "responder.log", child_env(env),
            http_ok(responder_url + "/health/ready")))
        bare_port = free_port()
        bare_url = f"http://{HOST}:{bare_port}"
        bare = stack.enter_context(process("bare flask", _bare_argv(bare_port, workers), workdir / "bare.log",
                                           child_env({"BENCH_THREADS": str(threads)}),
                                           http_ok(bare_url + "/health/ready")))
        targets = {"responder": (responder_url, responder.pid), "bare": (bare_url, bare.pid)}
        closed: dict[str, list[WrkResult]] = {"responder": [], "bare": []}
        cpu: dict[str, list[float]] = {"responder": [], "bare": []}
        for round_number in range(sizes.rounds + 1):  # round 0 warms both up and is not counted
            for name, (url, pid) in targets.items():
                script = workdir / f"ingest-{name}-{round_number}.lua"
                script.write_text(lua_script(parts, token, f"w{round_number}{secrets.token_hex(2)}"))
                before = procs.cpu_seconds(pid)
                result = run_wrk(url, script, sizes.seconds if round_number else 2, sizes.connections)
                if round_number:
                    closed[name].append(result)
                    cpu[name].append((procs.cpu_seconds(pid) - before) * 1000 / max(result.requests, 1))
        fixed: dict[str, OpenLoopResult] = {}
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}",
                   "User-Agent": "Alertmanager/0.25.0"}
        tag = "o" + secrets.token_hex(3)
        for name, (url, _pid) in targets.items():
            stream = BodyStream(parts, tag if name == "responder" else "x" + secrets.token_hex(3))
            fixed[name] = run_open_loop(url + "/alerts", sizes.rate, sizes.rate_seconds, stream.next, headers)
        acked = fixed["responder"].statuses.get(200, 0)
        recorded = _ledger_count(ledger, tag)
        expected = _alerts_in(bodies, fixed["responder"].acknowledged)
        stalled = _stalled_run(responder_url, parts, headers, sizes)
        rss = {u.name + f" ({u.pid})": round(u.rss_mib, 1) for u in procs.tree_usage(responder.pid)}
    figures = _result(closed, cpu, fixed, sizes, workers, threads, acked, recorded, expected, rss)
    figures["stalled"] = {**stalled, "without": _rate_and_p99(fixed["responder"], sizes.rate_seconds)}
    return figures


def _rate_and_p99(result: OpenLoopResult, seconds: float) -> dict[str, float]:
    return {"acknowledged_per_s": round(result.statuses.get(200, 0) / seconds, 1),
            "p99_ms": percentile(result.latencies_ms, 99), "errors": result.errors}


def _stalled_run(url: str, parts: Any, headers: dict[str, str], sizes: IngestSizes) -> dict[str, Any]:
    """The open-loop run again, while `sizes.stalled` connections hold half a request each."""
    stream = BodyStream(parts, "s" + secrets.token_hex(3))
    with stalled_clients(url, sizes.stalled) as stalled:
        result = run_open_loop(url + "/alerts", sizes.rate, sizes.rate_seconds, stream.next, headers)
    return {"connections": sizes.stalled, "reopened": stalled.reopened, "rate_per_s": sizes.rate,
            "with": _rate_and_p99(result, sizes.rate_seconds)}


def _result(closed: dict[str, list[WrkResult]], cpu: dict[str, list[float]], fixed: dict[str, OpenLoopResult],
            sizes: IngestSizes, workers: int, threads: int, acked: int, recorded: int, expected: int,
            rss: dict[str, float]) -> dict[str, Any]:
    rate = {name: statistics.median(r.rate for r in rounds) for name, rounds in closed.items()}
    p99 = {name: percentile(result.latencies_ms, 99) for name, result in fixed.items()}
    p50 = {name: percentile(result.latencies_ms, 50) for name, result in fixed.items()}
    return {
        "server": {"workers": workers, "threads": threads, "worker_class": "uvicorn (responder.web.asgi)",
                   "ledger": "postgresql",
                   "mode": "off", "synchronous_commit": "on (server default)"},
        "closed_loop": {
            "tool": "wrk", "connections": sizes.connections, "seconds": sizes.seconds, "rounds": sizes.rounds,
            "rate_per_s": rate, "rounds_per_s": {n: [round(r.rate, 1) for r in rs] for n, rs in closed.items()},
            "errors": {n: sum(r.errors for r in rs) for n, rs in closed.items()},
            "p99_ms_at_saturation": {n: statistics.median(r.p99_ms for r in rs) for n, rs in closed.items()},
            "cpu_ms_per_notification": {n: statistics.median(v) for n, v in cpu.items()},
            "ratio_to_bare": ratio(rate["responder"], rate["bare"]),
        },
        "open_loop": {
            "tool": "bench.openloop (asyncio, latency from each request's due time)",
            "rate_per_s": sizes.rate, "seconds": sizes.rate_seconds,
            "p50_ms": p50, "p99_ms": p99,
            "statuses": {n: r.statuses for n, r in fixed.items()},
            "errors": {n: r.errors for n, r in fixed.items()},
            "late_sends": {n: r.late_sends for n, r in fixed.items()},
            "ratio_p99_to_bare": ratio(p99["responder"], p99["bare"]),
        },
        "ledger_check": {"acknowledged_deliveries": acked, "alerts_in_acknowledged": expected,
                         "alerts_recorded": recorded, "ok": recorded >= expected},
        "rss_mib": rss,
    }
