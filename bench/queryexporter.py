"""query-exporter (PyPI, SQLAlchemy-based, albertodonato/query-exporter): a Python exporter that runs a
query without an `interval` at every scrape, so its scrape latency is the like-for-like peer of ours.

It is installed into its own venv under bench/results/peers/ (its SQLAlchemy and prometheus_client pins
are not the project's), once; when that install fails (no package index), the peer is skipped.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from bench.services import REPO, process
from bench.sqlexporter import statement
from stack.ports import HOST, free_port
from stack.render import write_yaml
from stack.services import child_env

VERSION = "5.0.2"
VENV = REPO / "bench" / "results" / "peers" / f"query-exporter-{VERSION}"
METRICS = {"stale_orders": "tradingbot_stale_orders",
           "oldest_age_seconds": "tradingbot_stale_order_oldest_age_seconds",
           "quarantined_orders": "tradingbot_quarantined_orders"}


def install() -> Path | None:
    """The query-exporter executable, installed on first use; None when it cannot be installed."""
    binary = VENV / "bin" / "query-exporter"
    if binary.exists():
        return binary
    try:
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, capture_output=True, timeout=120)
        subprocess.run([str(VENV / "bin" / "pip"), "install", "--quiet", f"query-exporter=={VERSION}",
                        "psycopg[binary]"], check=True, capture_output=True, timeout=600)
    except (subprocess.SubprocessError, OSError):
        return None
    return binary if binary.exists() else None


def strategy_statement(stale_after_seconds: float) -> str:
    """The stale-backlog aggregate for the strategy shape (config/shapes/strategy.yml) in plain SQL, as one would
    write it by hand: orders reach their strategy through trade_proposals, a resting limit order is never
    stale, the rest go stale from submitted_at."""
    stale = ("o.status IN ('new', 'submitted', 'partially_filled') AND NOT (o.status IN ('submitted', "
             "'partially_filled') AND o.order_type IN ('limit', 'stop_limit')) AND o.submitted_at < now() - "
             f"interval '{stale_after_seconds:g} seconds'")
    return (  # built from constants only
        "SELECT s.id::text AS profile, "  # noqa: S608
        "coalesce(sum(CASE WHEN x.stale THEN 1 ELSE 0 END), 0)::float AS stale_orders, "
        "coalesce(extract(epoch FROM now() - min(CASE WHEN x.stale THEN x.submitted_at END)), 0)::float "
        "AS oldest_age_seconds, "
        "coalesce(sum(CASE WHEN x.status = 'unknown' THEN 1 ELSE 0 END), 0)::float AS quarantined_orders "
        "FROM strategies s LEFT JOIN (SELECT tp.strategy_id, o.status, o.submitted_at, "
        f"({stale}) AS stale FROM orders o JOIN trade_proposals tp ON tp.id = o.trade_proposal_id "
        f"WHERE ({stale}) OR o.status = 'unknown') x ON x.strategy_id = s.id GROUP BY s.id"
    )


def config(db_url: str, stale_after_seconds: float, sql: str | None = None) -> dict[str, Any]:
    sql = sql or statement(stale_after_seconds)
    for column, metric in METRICS.items():
        sql = sql.replace(f"AS {column}", f"AS {metric}")
    return {
        "databases": {"bot": {"dsn": db_url}},
        "metrics": {metric: {"type": "gauge", "description": metric, "labels": ["profile"]}
                    for metric in METRICS.values()},
        "queries": {"stale_backlog": {"databases": ["bot"], "metrics": list(METRICS.values()), "sql": sql}},
    }


@contextmanager
def query_exporter(binary: Path, db_url: str, stale_after_seconds: float, workdir: Path,
                   sql: str | None = None) -> Iterator[str]:
    """Serve the stale-backlog query (today's shape's, or `sql`) with query-exporter; yield its /metrics URL."""
    port = free_port()
    path = write_yaml(workdir / "query-exporter.yml", config(db_url, stale_after_seconds, sql))
    url = f"http://{HOST}:{port}/metrics"

    def ready() -> bool:
        try:
            return requests.get(url, timeout=5).status_code == 200
        except requests.RequestException:
            return False

    argv = [str(binary), "--config", str(path), "-H", HOST, "-p", str(port), "-L", "warning"]
    with process("query-exporter", argv, workdir / "query-exporter.log", child_env({}), ready):
        yield url
