"""Stand-in for the heartbeat service, the ticket system and Slack in the Compose deployment.

Alertmanager's committed config notifies ``http://heartbeat:8080/...`` (Watchdog) and
``http://tickets:8080/...`` (SEV-3); the generated Slack secret points at ``http://receivers:8080/slack``.
This one process answers all of them (Compose network aliases) so that every receiver resolves and
Alertmanager's notification-failure counters stay meaningful. It answers 200 to every POST, logs one
JSON line per notification on stdout (``docker compose logs receivers``) and keeps the last bodies in
memory for ``GET /received`` (newest last). ``GET /healthz`` is its health check. In production these
are the real services: see docs/deploy.md.

Standard library only: ``python receiver_stub.py [--port 8080]``.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections import deque
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_BODY_BYTES = 1_048_576
KEEP = 200


class Received:
    """The last notifications, safe to use from the server's threads."""

    def __init__(self) -> None:
        self._items: deque[dict[str, Any]] = deque(maxlen=KEEP)
        self._lock = threading.Lock()

    def add(self, item: dict[str, Any]) -> None:
        with self._lock:
            self._items.append(item)

    def all(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._items)


def make_handler(received: Received) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "receiver-stub"

        def do_GET(self) -> None:
            if self.path == "/healthz":
                self._answer(200, {"status": "ok"})
            elif self.path == "/received":
                self._answer(200, received.all())
            else:
                self._answer(404, {"error": "not found"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                self._answer(413, {"error": "body too large"})
                return
            raw = self.rfile.read(length)
            try:
                body: Any = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode("utf-8", "replace")
            host = (self.headers.get("Host") or "").split(":")[0]
            item = {
                "at": datetime.now(UTC).isoformat(),
                "host": host,
                "path": self.path,
                "authorized": self.headers.get("Authorization", "").startswith("Bearer "),
                "body": body,
            }
            received.add(item)
            alerts = body.get("alerts", []) if isinstance(body, dict) else []
            summary = {k: item[k] for k in ("at", "host", "path", "authorized")}
            print(json.dumps({**summary, "status": _status(body), "alerts": len(alerts)}), flush=True)
            self._answer(200, {"status": "ok"})

        def _answer(self, status: int, payload: Any) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # one JSON line per POST is enough
            return None

    return Handler


def _status(body: Any) -> str | None:
    return body.get("status") if isinstance(body, dict) else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="0.0.0.0", help="address to listen on (%(default)s)")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on (%(default)s)")
    args = parser.parse_args(argv)
    server = ThreadingHTTPServer((args.host, args.port), make_handler(Received()))
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    threading.Thread(target=server.serve_forever, name="receiver-stub", daemon=True).start()
    print(json.dumps({"msg": f"receiver stub listening on {args.host}:{args.port}"}), flush=True)
    stop.wait()
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
