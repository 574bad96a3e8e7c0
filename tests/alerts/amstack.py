"""Real Alertmanagers on local copies of the committed configs, and a server capturing what they send.

Two configs, as in every deployment: alerts/alertmanager.yml (the people's: pages, chat, tickets, the
heartbeat, with inhibitions) and alerts/alertmanager-automation.yml (the responder's, no inhibitions).
A copy changes only what docs/alerting.md allows a deployment to change: every receiver `url` points at
the capture server (path = receiver name), every `*_file` at a throwaway file (a capture URL for
`api_url_file`, a token otherwise) and `templates` at the repository's templates. Routes, grouping,
timings and inhibitions are the committed ones.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests
import yaml

from stack.render import (
    AUTOMATION_ALERTMANAGER,
    PEOPLE_ALERTMANAGER,
    alertmanager_config,
    secret_files,
    write_yaml,
)
from tests.support.ports import free_port, wait_for_port

REPO = Path(__file__).resolve().parents[2]
ALERTS = REPO / "alerts"
EXTERNAL_URL = "http://alertmanager:9093"


@dataclass(frozen=True)
class Delivery:
    receiver: str
    headers: dict[str, str]
    body: Any


class CaptureServer:
    """Answer 200 to every POST and keep what arrived, per receiver (the request path)."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self._lock = threading.Lock()
        capture = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"null")
                with capture._lock:
                    capture.deliveries.append(Delivery(self.path.strip("/"), dict(self.headers), body))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"status":"success"}')

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> CaptureServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def received(self, receiver: str) -> list[Delivery]:
        with self._lock:
            return [d for d in self.deliveries if d.receiver == receiver]

    def wait_for(self, what: str, ready: Callable[[], bool], timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {what} after {timeout} s; received: {self.deliveries}")
            time.sleep(0.1)


def local_copy(directory: Path, capture_url: str, source: Path = PEOPLE_ALERTMANAGER) -> tuple[Path, dict[str, str]]:
    """Write the local copy of a committed Alertmanager config (every receiver to the capture server);
    return it and the content of each secret file."""
    config = alertmanager_config(directory, {}, capture_url, {}, source)
    return write_yaml(directory / source.name, config), secret_files(directory)


def both_copies(directory: Path, capture_url: str) -> tuple[Path, Path, dict[str, str]]:
    """The local copies of the people's and the automation's configs, and every secret file's content."""
    people, _ = local_copy(directory, capture_url)
    automation, secrets = local_copy(directory, capture_url, AUTOMATION_ALERTMANAGER)
    return people, automation, secrets


def alert_key(alert: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """An alert's identity: its label set."""
    return tuple(sorted(alert["labels"].items()))


def delivered(deliveries: list[Delivery], status: str | None = None) -> set[tuple[tuple[str, str], ...]]:
    """The alerts (by identity) that webhook `deliveries` carried, only those with `status` if given."""
    return {alert_key(a) for d in deliveries for a in d.body["alerts"] if status is None or a["status"] == status}


class Alertmanager:
    def __init__(self, url: str) -> None:
        self.url = url

    def post_alerts(self, alerts: list[dict[str, Any]]) -> None:
        requests.post(f"{self.url}/api/v2/alerts", json=alerts, timeout=5).raise_for_status()

    def cluster_peers(self) -> int:
        answer = requests.get(f"{self.url}/api/v2/status", timeout=5)
        answer.raise_for_status()
        return len(answer.json()["cluster"].get("peers") or [])

    def alerts(self) -> list[dict[str, Any]]:
        answer = requests.get(f"{self.url}/api/v2/alerts", timeout=5)
        answer.raise_for_status()
        result: list[dict[str, Any]] = answer.json()
        return result


def post_to_all(alertmanagers: list[Alertmanager], alerts: list[dict[str, Any]]) -> None:
    """What Prometheus does: every alert to every Alertmanager of every set."""
    for alertmanager in alertmanagers:
        alertmanager.post_alerts(alerts)


@contextmanager
def running_alertmanager(
    config: Path, directory: Path, name: str = "alertmanager", cluster: tuple[int, list[int]] | None = None
) -> Iterator[Alertmanager]:
    """Start prometheus-alertmanager on a free loopback port; stop it afterwards. `cluster` is this peer's
    gossip port and the others' (None: no cluster)."""
    port = free_port()
    if cluster is None:
        gossip = ["--cluster.listen-address="]
    else:
        own, peers = cluster
        gossip = [f"--cluster.listen-address=127.0.0.1:{own}", *(f"--cluster.peer=127.0.0.1:{p}" for p in peers)]
    log = (directory / f"{name}.log").open("wb")
    process = subprocess.Popen(
        [
            "prometheus-alertmanager",
            f"--config.file={config}",
            f"--storage.path={directory / name}",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--web.external-url={EXTERNAL_URL}",
            *gossip,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port)
        yield Alertmanager(f"http://127.0.0.1:{port}")
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def promtool_alert(test_file: str, alertname: str, **labels: str) -> dict[str, Any]:
    """The first alert a promtool test file expects for `alertname` (and `labels`), as Alertmanager gets it.

    The end-to-end checks post exactly what promtool proves the rules produce.
    """
    tests = yaml.safe_load((REPO / "promtool-tests" / test_file).read_text())["tests"]
    for test in tests:
        for case in test.get("alert_rule_test", []):
            if case["alertname"] != alertname:
                continue
            for expected in case["exp_alerts"]:
                if all(expected["exp_labels"].get(k) == v for k, v in labels.items()):
                    return {
                        "labels": {"alertname": alertname, **expected["exp_labels"]},
                        "annotations": dict(expected["exp_annotations"]),
                        "generatorURL": f"http://prometheus:9090/graph?g0.expr=ALERTS%7Balertname%3D%22{alertname}%22%7D",
                    }
    raise LookupError(f"no expected {alertname} {labels} in promtool-tests/{test_file}")
