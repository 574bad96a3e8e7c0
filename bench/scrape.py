"""Stale-backlog scrape at scale against its floor (the same aggregate SQL run bare with psycopg) and
against Debian's prometheus-sql-exporter serving an equivalent query.

Our collector, served over HTTP exactly as `python -m exporters` serves it (exporters/exposition.py), and the
bare statement run alternately in one loop; then the breakdown (SQL, row handling, exposition) that
explains the ratio. The sql-exporter runs its query on a schedule and serves a cache, so its scrape
latency says nothing about query cost: it is compared per refresh (its own query timing from its log,
database time by EXPLAIN ANALYZE of both statements, process CPU per refresh) and by freshness.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import requests
import yaml
from prometheus_client import start_http_server
from sqlalchemy.dialects import postgresql

from bench import pg, queryexporter, sqlexporter
from bench.stats import ratio, summary
from common.db import make_engine
from exporters.app import build_registry, utc_now
from exporters.collector import ExporterCollector
from exporters.exposition import render, start_metrics_server
from exporters.stale_backlog import StaleBacklogCollector
from sources.botdata import BotData
from sources.mapping import BotMapping, default_mapping
from stack.ports import HOST, free_port

REPO = Path(__file__).resolve().parents[1]

# What Prometheus 2.42 sends when it scrapes.
HEADERS = {
    "Accept": "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
    "Accept-Encoding": "gzip",
}


def _bare_statement(bot: BotData) -> tuple[str, dict[str, Any]]:
    """The statement the collector runs, compiled for psycopg with its parameters (the bare peer's SQL)."""
    dialect = postgresql.psycopg.dialect()  # type: ignore[no-untyped-call]
    statement = bot.statements(utc_now())["stale_backlog"]
    compiled = statement.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    processors = compiled._bind_processors
    params = {name: processors[name](value) if name in processors else value for name, value in compiled.params.items()}
    return str(compiled), params


def _timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


def _alternate(measures: dict[str, Callable[[], object]], samples: int, cpu_of: str) -> dict[str, list[float]]:
    """Run every measure once per round, in order, `samples` rounds after 3 warm-up rounds; the process
    CPU time of `cpu_of` is recorded as "cpu"."""
    times: dict[str, list[float]] = {name: [] for name in [*measures, "cpu"]}
    for _ in range(3):
        for action in measures.values():
            action()
    for _ in range(samples):
        for name, action in measures.items():
            cpu = time.process_time()
            times[name].append(_timed(action))
            if name == cpu_of:
                times["cpu"].append((time.process_time() - cpu) * 1000)
    return times


def measure_collector(db_url: str, stale_after: timedelta, samples: int, peer: str | None = None,
                      mapping: BotMapping | None = None) -> dict[str, Any]:
    """Alternate: HTTP scrape of the collector, the bare statement, the collector's parts and (when given)
    a scrape of `peer`, query-exporter's /metrics URL. `mapping`: the bot's (default: today's shape)."""
    bot = BotData(make_engine(db_url), mapping or default_mapping(), stale_after.total_seconds())
    bot.check()
    collector = StaleBacklogCollector(bot, utc_now)
    exporter = ExporterCollector([collector])
    registry = build_registry(exporter)
    port, before_port = free_port(), free_port()
    gc.freeze()  # as python -m exporters does before it serves
    server, _thread = start_metrics_server(HOST, port, registry)
    # The serving path before exporters/exposition.py, for the before/after figure.
    before, _before_thread = start_http_server(before_port, addr=HOST, registry=registry)
    session = requests.Session()

    def scrape(at: int | str) -> None:
        answer = session.get(at if isinstance(at, str) else f"http://{HOST}:{at}/metrics", headers=HEADERS,
                             timeout=30)
        answer.raise_for_status()
        assert b"tradingbot_stale_orders" in answer.content

    try:
        with psycopg.connect(pg.conninfo(db_url), autocommit=True) as bare:
            measures: dict[str, Callable[[], object]] = {
                "scrape": lambda: scrape(port),
                "bare_sql": lambda: bare.execute(*_bare_statement(bot)).fetchall(),
                "scrape_prometheus_client": lambda: scrape(before_port),
                "collect": collector.collect,
                "in_process": lambda: render(registry),  # the server side of a scrape: collect and format
            }
            if peer:
                measures["scrape_query_exporter"] = lambda: scrape(peer)
            times = _alternate(measures, samples, cpu_of="in_process")
            series = len([line for line in render(registry).splitlines() if not line.startswith(b"#")])
    finally:
        gc.unfreeze()
        for running in (server, before):
            running.shutdown()
            running.server_close()
        exporter.close()
        bot.dispose()
    return _collector_result({name: summary(values) for name, values in times.items()}, samples, series)


def _collector_result(stats: dict[str, dict[str, float]], samples: int, series: int) -> dict[str, Any]:
    peer = stats.get("scrape_query_exporter")
    return {
        "query_exporter_scrape_ms": peer,
        "ratio_p95_to_query_exporter": ratio(stats["scrape"]["p95"], peer["p95"]) if peer else None,
        "ratio_median_to_query_exporter": ratio(stats["scrape"]["median"], peer["median"]) if peer else None,
        "samples": samples,
        "series": series,
        "scrape_ms": stats["scrape"],
        "bare_sql_ms": stats["bare_sql"],
        "scrape_prometheus_client_server_ms": stats["scrape_prometheus_client"],
        "collect_ms": stats["collect"],
        "in_process_ms": stats["in_process"],
        "exposition_median_ms": stats["in_process"]["median"] - stats["collect"]["median"],
        "cpu_ms_per_scrape": stats["cpu"],
        "ratio_p95": ratio(stats["scrape"]["p95"], stats["bare_sql"]["p95"]),
        "ratio_median": ratio(stats["scrape"]["median"], stats["bare_sql"]["median"]),
    }


def explain_ms(db_url: str, statements: dict[str, tuple[str, dict[str, Any]]], rounds: int) -> dict[str, Any]:
    """Median execution time (EXPLAIN (ANALYZE, BUFFERS)) of each statement, run alternately."""
    found: dict[str, list[float]] = {name: [] for name in statements}
    buffers: dict[str, str] = {}
    with psycopg.connect(pg.conninfo(db_url), autocommit=True) as conn:
        for _ in range(rounds):
            for name, (sql, params) in statements.items():
                plan = [row[0] for row in conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params or None)]
                found[name].append(float(plan[-1].split(":")[1].split()[0]))
                buffers[name] = next((line.strip() for line in plan if "Buffers:" in line), "")
    return {name: {**summary(values), "buffers": buffers[name]} for name, values in found.items()}


def run(db_url: str, stale_after_seconds: float, workdir: Path, samples: int, refresh_seconds: float,
        watch_seconds: float, with_query_exporter: bool = True) -> dict[str, Any]:
    stale_after = timedelta(seconds=stale_after_seconds)
    binary = queryexporter.install() if with_query_exporter else None
    with ExitStack() as stack:
        python_peer = stack.enter_context(
            queryexporter.query_exporter(binary, db_url, stale_after_seconds, workdir)) if binary else None
        ours = measure_collector(db_url, stale_after, samples, python_peer)
    peer = sqlexporter.measure(db_url, stale_after_seconds, workdir, samples, refresh_seconds, watch_seconds)
    explained = BotData(make_engine(db_url), default_mapping(), stale_after_seconds)
    try:
        collector_statement = _bare_statement(explained)
    finally:
        explained.dispose()
    database = explain_ms(db_url, {"collector": collector_statement,
                                   "sql_exporter": (sqlexporter.statement(stale_after_seconds), {})}, rounds=15)
    peer_fresh = peer["evaluation_ms"]["p95"] + peer["scrape_ms"]["p95"]
    return {
        "collector": ours,
        "sql_exporter": peer,
        "database_ms_per_evaluation": database,
        "ratio_database_time": ratio(database["collector"]["median"], database["sql_exporter"]["median"]),
        "ratio_fresh_exposition": ratio(ours["scrape_ms"]["p95"], peer_fresh),
        "ratio_cpu_per_refresh": ratio(ours["cpu_ms_per_scrape"]["median"], peer["cpu_ms_per_refresh"]),
        "freshness": {"collector": "computed at every scrape",
                      "sql_exporter": f"cached: up to {refresh_seconds:g} s + one evaluation old at a scrape"},
    }


def strategy_mapping() -> BotMapping:
    """The strategy shape's mapping, as config/shapes/strategy.yml states it."""
    raw = yaml.safe_load((REPO / "config" / "shapes" / "strategy.yml").read_text(encoding="utf-8"))
    return BotMapping.model_validate(raw["bot_db"]["mapping"])


def run_strategy(db_url: str, stale_after_seconds: float, workdir: Path, samples: int,
                 with_query_exporter: bool = True) -> dict[str, Any]:
    """The same scrape over the strategy shape (orders reached through trade proposals, resting limit orders
    never stale): our collector with that shape's mapping against query-exporter running a hand-written
    equivalent at every scrape, and both statements' database time."""
    stale_after = timedelta(seconds=stale_after_seconds)
    mapping = strategy_mapping()
    peer_sql = queryexporter.strategy_statement(stale_after_seconds)
    binary = queryexporter.install() if with_query_exporter else None
    with ExitStack() as stack:
        peer = stack.enter_context(queryexporter.query_exporter(
            binary, db_url, stale_after_seconds, workdir, peer_sql)) if binary else None
        ours = measure_collector(db_url, stale_after, samples, peer, mapping)
    explained = BotData(make_engine(db_url), mapping, stale_after_seconds)
    try:
        collector_statement = _bare_statement(explained)
    finally:
        explained.dispose()
    database = explain_ms(db_url, {"collector": collector_statement, "query_exporter": (peer_sql, {})}, rounds=15)
    return {
        "shape": "strategy",
        "collector": ours,
        "database_ms_per_evaluation": database,
        "ratio_database_time": ratio(database["collector"]["median"], database["query_exporter"]["median"]),
    }
