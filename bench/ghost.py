"""Ghost collector at scale: every broker account read once per scrape, with artificial broker latency.

The simulator serves the seeded accounts with `broker_latency_ms` on every broker request; the
collector runs in this process as `python -m exporters` builds it (bounded pool of
`broker.max_concurrency` reads, the same HTTP session settings) and each scrape is timed end to end
(collect and exposition). Broker reads are counted on the HTTP session itself. The floor is
ceil(accounts / max_concurrency) x latency: the reads cannot finish sooner.
"""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path
from typing import Any

import requests
from prometheus_client import CollectorRegistry

from bench import procs
from bench.services import Process
from bench.simulator import control
from bench.stats import ratio, summary
from common.config import load_config
from exporters.app import build_registry, http_session
from exporters.collector import ExporterCollector
from exporters.exposition import render
from exporters.ghost_positions import GhostPositionCollector
from sources.botdata import open_bot_data
from sources.broker import BrokerClient


class ReadCounter:
    """Counts GET /v2/positions answers on a requests session (a response hook)."""

    def __init__(self, session: requests.Session) -> None:
        self.count = 0
        self._lock = threading.Lock()
        session.hooks["response"].append(self._seen)

    def _seen(self, response: requests.Response, *_args: Any, **_kwargs: Any) -> None:
        if response.request.method == "GET" and (response.request.path_url or "").startswith("/v2/positions"):
            with self._lock:
                self.count += 1

    def take(self) -> int:
        with self._lock:
            count, self.count = self.count, 0
        return count


def _scrape(registry: CollectorRegistry, counter: ReadCounter, scrapes: int) -> tuple[list[float], ...]:
    """Scrape `scrapes` times after a warm-up: seconds, broker reads and accounts up, per scrape."""
    times: list[float] = []
    reads: list[float] = []
    up: list[float] = []
    render(registry)  # warm-up: connections, the DB pool
    counter.take()
    for _ in range(scrapes):
        started = time.perf_counter()
        text = render(registry)
        times.append(time.perf_counter() - started)
        reads.append(counter.take())
        up.append(sum(1 for line in text.splitlines()
                      if line.startswith(b"tradingbot_broker_up{") and line.endswith(b" 1.0")))
    return times, reads, up


def run(config_path: Path, sections: dict[str, Any], env: dict[str, str], sim: Process, accounts: int,
        latency_ms: float, scrapes: int, deadline_seconds: float) -> dict[str, Any]:
    config = load_config(config_path)
    broker = config.broker
    control(sections, "/settings", {"broker_latency_ms": latency_ms})
    bot = open_bot_data(config.bot_db)
    session = http_session(broker.max_concurrency + 8)
    counter = ReadCounter(session)
    timeout = (broker.connect_timeout_seconds, broker.read_timeout_seconds)

    def broker_for(key: str) -> BrokerClient:
        return BrokerClient(broker.base_url, key, env["APCA_API_SECRET_KEY"], session, timeout)

    ghost = GhostPositionCollector(bot, broker_for, broker.max_concurrency, deadline_seconds)
    exporter = ExporterCollector([ghost])
    cpu_before = procs.cpu_seconds(sim.pid)
    try:
        times, reads, up = _scrape(build_registry(exporter), counter, scrapes)
    finally:
        exporter.close()
        ghost.close()
        bot.dispose()
        session.close()
    sim_cpu = procs.cpu_seconds(sim.pid) - cpu_before
    floor = math.ceil(accounts / broker.max_concurrency) * latency_ms / 1000
    stats = summary(times)
    simulator_rss = procs.usage(sim.pid)
    return {
        "accounts": accounts,
        "broker_latency_ms": latency_ms,
        "max_concurrency": broker.max_concurrency,
        "deadline_s": deadline_seconds,
        "configured_budget_s": config.section("exporters").ghost_scrape_budget_seconds,
        "scrape_s": stats,
        "floor_s": floor,
        "ratio_p95_to_floor": ratio(stats["p95"], floor),
        "broker_reads_per_scrape": reads,
        "accounts_up_per_scrape": up,
        "one_read_per_account": all(count == accounts for count in reads),
        "simulator_cpu_ms_per_scrape": sim_cpu * 1000 / max(scrapes + 1, 1),
        "simulator_rss_mib": round(simulator_rss.rss_mib, 1) if simulator_rss else None,
    }
