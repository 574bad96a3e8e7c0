"""Webhook ingest rate: the responder vs a bare Flask endpoint answering 200 under the same gunicorn settings.

    .venv/bin/python -m tests.responder.bench_ingest [--deliveries 600] [--clients 8] [--postgres]

Both servers run as real processes (gthread, the responder config's workers/threads); the same client
threads post the same distinct one-alert notifications (an alertname without a playbook, so only the
ledger write is measured) to each, alternately, three rounds. Prints deliveries per second (median of
the rounds) and the ratio. Absolute numbers drift on a shared machine; the ratio is the figure to quote.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import requests
from flask import Flask

from tests.responder.harness import REPO, WEBHOOK_TOKEN, sections
from tests.responder.payloads import alert, notification
from tests.responder.processes import child_env, responder_process
from tests.support.databases import temporary_database
from tests.support.ports import free_port, wait_for_port

bare_app = Flask("bare")


@bare_app.post("/alerts")
def _bare() -> tuple[str, int]:
    return "{}", 200


def _post_all(url: str, bodies: list[dict[str, Any]], clients: int) -> float:
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_maxsize=clients)
    session.mount("http://", adapter)
    headers = {"Authorization": f"Bearer {WEBHOOK_TOKEN}"}

    def post(body: dict[str, Any]) -> int:
        return session.post(f"{url}/alerts", json=body, headers=headers, timeout=30).status_code

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        statuses = list(pool.map(post, bodies))
    elapsed = time.perf_counter() - started
    if set(statuses) != {200}:
        raise RuntimeError(f"unexpected answers: {sorted(set(statuses))}")
    return len(bodies) / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deliveries", type=int, default=600)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--postgres", action="store_true",
                        help="ledger in a throwaway PostgreSQL database at TEST_DATABASE_URL (default: SQLite)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp, ExitStack() as stack:
        tmp_path = Path(tmp)
        sqlite = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
        ledger = stack.enter_context(temporary_database("tbbench")) if args.postgres else sqlite
        config = sections(tmp_path, ledger, responder={"workers": args.workers, "threads": args.threads})
        port = free_port()
        bare = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-w", str(args.workers), "-k", "gthread", "--threads",
             str(args.threads), "-b", f"127.0.0.1:{port}", "--no-control-socket",
             "tests.responder.bench_ingest:bare_app"],
            cwd=REPO, env=child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            wait_for_port(port)
            with responder_process(tmp_path, config) as responder:
                rates: dict[str, list[float]] = {"responder": [], "bare": []}
                for round_number in range(3):
                    bodies = [notification(alert({"alertname": "BenchUnrouted", "n": f"{round_number}-{i}"}))
                              for i in range(args.deliveries)]
                    rates["responder"].append(_post_all(responder.url, bodies, args.clients))
                    rates["bare"].append(_post_all(f"http://127.0.0.1:{port}", bodies, args.clients))
        finally:
            bare.terminate()
            bare.wait(10)
    medians = {name: statistics.median(values) for name, values in rates.items()}
    for name, value in medians.items():
        print(f"{name:>9}: {value:7.1f} deliveries/s (rounds: {', '.join(f'{v:.0f}' for v in rates[name])})")
    print(f"    ratio: {medians['responder'] / medians['bare']:.2f} of the bare endpoint "
          f"({args.workers} workers x {args.threads} threads, {args.clients} clients, ledger {ledger.split(':')[0]})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
