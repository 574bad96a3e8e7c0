"""Debian's prometheus-sql-exporter (justwatchcom/sql_exporter 0.4.5) serving the stale-backlog query.

It runs each job's queries, sleeps `interval`, and serves the last results from memory. Its debug log
marks each run ("Running Query" / "Query finished", RFC 3339 nanosecond times), which gives the time of
each evaluation (database + driver + row handling) and how many ran while its CPU time was watched.
"""

from __future__ import annotations

import json
import shutil
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from bench import pg, procs
from bench.services import process
from bench.stats import percentile, summary
from sources.botdb import QUARANTINED_STATUS, WORKING_STATUSES
from stack.ports import HOST, free_port
from stack.render import write_yaml
from stack.services import child_env

BINARY = "prometheus-sql-exporter"
HEADERS = {"Accept-Encoding": "gzip", "Accept": "text/plain;version=0.0.4"}


def available() -> bool:
    return shutil.which(BINARY) is not None


def statement(stale_after_seconds: float) -> str:
    """The stale-backlog aggregate in plain SQL, as one would configure it (labels text, values float)."""
    working = ", ".join(f"'{status}'" for status in WORKING_STATUSES)
    stale = f"o.status IN ({working}) AND o.updated_at < now() - interval '{stale_after_seconds:g} seconds'"
    quarantined = f"o.status = '{QUARANTINED_STATUS}'"
    return (  # built from constants only
        "SELECT p.id::text AS profile, "  # noqa: S608
        f"coalesce(sum(CASE WHEN {stale} THEN 1 ELSE 0 END), 0)::float AS stale_orders, "
        f"coalesce(extract(epoch FROM now() - min(CASE WHEN {stale} THEN o.updated_at END)), 0)::float "
        "AS oldest_age_seconds, "
        f"coalesce(sum(CASE WHEN {quarantined} THEN 1 ELSE 0 END), 0)::float AS quarantined_orders "
        f"FROM profiles p LEFT JOIN orders o ON o.profile_id = p.id AND (({stale}) OR {quarantined}) "
        "GROUP BY p.id"
    )


def config(db_url: str, stale_after_seconds: float, refresh_seconds: float) -> dict[str, Any]:
    connection = pg.conninfo(db_url).replace("postgresql://", "postgres://", 1)
    return {"jobs": [{
        "name": "tradingbot",
        "interval": f"{refresh_seconds:g}s",
        "connections": [connection + ("&" if "?" in connection else "?") + "sslmode=disable"],
        "queries": [{
            "name": "stale_backlog",
            "help": "Stale working orders, age of the oldest and quarantined orders per profile",
            "labels": ["profile"],
            "values": ["stale_orders", "oldest_age_seconds", "quarantined_orders"],
            "query": statement(stale_after_seconds),
        }],
    }]}


def _runs(log: Path) -> list[tuple[datetime, datetime]]:
    """(started, finished) of each query run, from the exporter's JSON debug log."""
    started: datetime | None = None
    runs = []
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        at = datetime.fromisoformat(entry.get("ts", "")[:26].rstrip("Z")) if entry.get("ts") else None
        if entry.get("msg") == "Running Query":
            started = at
        elif entry.get("msg") == "Query finished" and started is not None and at is not None:
            runs.append((started, at))
            started = None
    return runs


def measure(db_url: str, stale_after_seconds: float, workdir: Path, samples: int, refresh_seconds: float,
            watch_seconds: float) -> dict[str, Any]:
    port = free_port()
    path = write_yaml(workdir / "sql-exporter.yml", config(db_url, stale_after_seconds, refresh_seconds))
    url = f"http://{HOST}:{port}/metrics"
    log = workdir / "sql-exporter.log"

    def ready() -> bool:
        try:
            return b"sql_stale_backlog{" in requests.get(url, timeout=2).content
        except requests.RequestException:
            return False

    argv = [BINARY, f"-config.file={path}", f"-web.listen-address={HOST}:{port}"]
    with process("prometheus-sql-exporter", argv, log, child_env({}), ready) as exporter:
        session = requests.Session()
        scrapes = []
        for _ in range(samples):
            started = time.perf_counter()
            session.get(url, headers=HEADERS, timeout=30).raise_for_status()
            scrapes.append((time.perf_counter() - started) * 1000)
        runs_before = len(_runs(log))
        cpu_before = procs.cpu_seconds(exporter.pid)
        time.sleep(watch_seconds)
        cpu = procs.cpu_seconds(exporter.pid) - cpu_before
        runs = _runs(log)
        rss = procs.usage(exporter.pid)
    evaluations = [(end - start).total_seconds() * 1000 for start, end in runs[1:]]
    refreshed = max(len(runs) - runs_before, 1)
    return {
        "version": "0.4.5 (Debian)",
        "refresh_interval_s": refresh_seconds,
        "scrape_ms": summary(scrapes),
        "scrape_note": "served from its cache: no query runs during a scrape",
        "evaluation_ms": summary(evaluations),
        "evaluation_p95_ms": percentile(evaluations, 95),
        "refreshes_watched": refreshed,
        "cpu_ms_per_refresh": cpu * 1000 / refreshed,
        "rss_mib": round(rss.rss_mib, 1) if rss else None,
    }
