"""Record real Alertmanager webhook deliveries as test fixtures.

    .venv/bin/python -m tests.responder.record_payloads [--out tests/responder/fixtures] [--alertmanager BINARY]

Starts the real ``prometheus-alertmanager`` on a free port with webhook receivers pointing at a capture
server, posts alerts to its ``/api/v2/alerts``, and saves each delivery's headers and body as JSON:
``am-firing.json`` (one GhostPosition), ``am-resolved.json`` (the same, resolved), ``am-grouped.json``
(two GhostPosition alerts of one profile in one group) and ``am-truncated.json`` (five
StalePendingOrders alerts through a receiver with ``max_alerts: 2``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests
import yaml

from tests.support.ports import free_port, wait_for_port

FIXTURES = Path(__file__).parent / "fixtures"
RECORDING_TOKEN = "recorded-webhook-token"  # a placeholder the fixtures carry, not a secret
KEPT_HEADERS = ("User-Agent", "Content-Type", "Authorization")
WAIT_SECONDS = 30.0


class Capture:
    """Webhook bodies received, by path; `wait` blocks (bounded) for the next matching one."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self._cond = threading.Condition()

    def add(self, item: dict[str, Any]) -> None:
        with self._cond:
            self.received.append(item)
            self._cond.notify_all()

    def wait(self, match: Any, timeout: float = WAIT_SECONDS) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for item in self.received:
                    if match(item):
                        self.received.remove(item)
                        return item
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no matching webhook delivery arrived")
                self._cond.wait(left)


@contextmanager
def capture_server() -> Iterator[tuple[str, Capture]]:
    capture = Capture()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {name: self.headers[name] for name in KEPT_HEADERS if name in self.headers}
            capture.add({"path": self.path, "headers": headers, "body": json.loads(body)})
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", capture
    finally:
        server.shutdown()
        server.server_close()


def alertmanager_config(
    hook: str, token_file: Path, inhibit_rules: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    auth = {"authorization": {"type": "Bearer", "credentials_file": str(token_file)}}
    return {
        "inhibit_rules": inhibit_rules or [],
        "route": {
            "receiver": "responder",
            "group_by": ["alertname", "profile"],
            "group_wait": "1s",
            "group_interval": "2s",
            "repeat_interval": "1h",
            "routes": [
                {
                    "matchers": ['alertname="StalePendingOrders"'],
                    "receiver": "responder-max-alerts",
                    "group_by": ["alertname"],
                }
            ],
        },
        "receivers": [
            {"name": "responder", "webhook_configs": [{"url": f"{hook}/alerts", "http_config": auth}]},
            {
                "name": "responder-max-alerts",
                "webhook_configs": [{"url": f"{hook}/alerts", "max_alerts": 2, "http_config": auth}],
            },
        ],
    }


@contextmanager
def alertmanager(
    binary: str,
    hook: str,
    workdir: Path,
    token: str = RECORDING_TOKEN,
    port: int | None = None,
    inhibit_rules: list[dict[str, Any]] | None = None,
) -> Iterator[str]:
    """Run the real Alertmanager (no clustering) with the capture/responder receivers; yield its URL."""
    token_file = workdir / "token"
    token_file.write_text(token)
    config = workdir / "alertmanager.yml"
    config.write_text(yaml.safe_dump(alertmanager_config(hook, token_file, inhibit_rules)))
    port = port or free_port()
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            "--web.external-url=http://alertmanager.example:9093",
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, timeout=WAIT_SECONDS)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def post_alerts(url: str, alerts: list[dict[str, Any]]) -> None:
    response = requests.post(f"{url}/api/v2/alerts", json=alerts, timeout=10)
    response.raise_for_status()


def api_alert(labels: dict[str, str], starts: datetime, ends: datetime | None = None) -> dict[str, Any]:
    """An alert as Prometheus posts it to ``/api/v2/alerts``."""
    return _alert(labels, starts, ends)


def _alert(labels: dict[str, str], starts: datetime, ends: datetime | None = None) -> dict[str, Any]:
    alert: dict[str, Any] = {
        "labels": labels,
        "annotations": {
            "summary": f"{labels['alertname']} for {labels.get('profile', 'all profiles')}",
            "runbook_url": "https://runbooks.example/incident-runbooks",
        },
        "startsAt": starts.isoformat().replace("+00:00", "Z"),
        "generatorURL": "http://prometheus.example:9090/graph",
    }
    if ends is not None:
        alert["endsAt"] = ends.isoformat().replace("+00:00", "Z")
    return alert


def _named(name: str) -> Any:
    return lambda item: item["body"]["commonLabels"].get("alertname") == name


def record(binary: str, out: Path) -> list[Path]:
    """Run the scenarios against a real Alertmanager and write one fixture per delivery."""
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=30)
    ghost = {"alertname": "GhostPosition", "severity": "sev1", "account": "acct-1", "symbol": "AAPL", "profile": "p-1"}
    grouped = [{**ghost, "profile": "p-2", "symbol": symbol} for symbol in ("MSFT", "TSLA")]
    stale = [{"alertname": "StalePendingOrders", "severity": "sev2", "profile": f"p-{n}"} for n in range(1, 6)]
    written = []
    with (
        tempfile.TemporaryDirectory(prefix="am-record-") as tmp,
        capture_server() as (hook, capture),
        alertmanager(binary, hook, Path(tmp)) as am,
    ):
        post_alerts(am, [_alert(ghost, now)])
        written.append(_save(out / "am-firing.json", capture.wait(_firing_profile("p-1"))))
        post_alerts(am, [_alert(labels, now) for labels in grouped] + [_alert(labels, now) for labels in stale])
        written.append(_save(out / "am-grouped.json", capture.wait(_firing_profile("p-2"))))
        written.append(_save(out / "am-truncated.json", capture.wait(_named("StalePendingOrders"))))
        post_alerts(am, [_alert(ghost, now, datetime.now(UTC))])
        written.append(_save(out / "am-resolved.json", capture.wait(_resolved_profile("p-1"))))
    return written


def _firing_profile(profile: str) -> Any:
    return lambda item: item["body"]["status"] == "firing" and item["body"]["groupLabels"].get("profile") == profile


def _resolved_profile(profile: str) -> Any:
    return lambda item: item["body"]["status"] == "resolved" and item["body"]["groupLabels"].get("profile") == profile


def _save(path: Path, item: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(item, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=FIXTURES, help="directory for the JSON fixtures")
    parser.add_argument("--alertmanager", default=shutil.which("prometheus-alertmanager") or "alertmanager",
                        help="the Alertmanager binary")
    args = parser.parse_args()
    for path in record(args.alertmanager, args.out):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
