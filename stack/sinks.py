"""Stand-ins for PagerDuty, Slack, the ticket system and the heartbeat service.

One threaded HTTP server records every JSON body POSTed to ``/<receiver>/...`` and serves them back on
``GET /received/<receiver>``; the demo and the end-to-end tests read who was notified from it. Given a
`SlackStandIn`, it also shows the responder's approval requests at ``GET /slack`` with buttons a person can
click, each click reaching the responder signed like Slack (`stack.slack`).
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from stack.slack import SlackStandIn, add_slack_stand_in


@dataclass
class Received:
    at: datetime
    path: str
    body: Any
    headers: dict[str, str]


@dataclass
class SinkLog:
    """Everything the sinks received, by receiver name, safe to read from other threads."""

    _items: dict[str, list[Received]] = field(default_factory=lambda: defaultdict(list))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, receiver: str, item: Received) -> None:
        with self._lock:
            self._items[receiver].append(item)

    def get(self, receiver: str) -> list[Received]:
        with self._lock:
            return list(self._items.get(receiver, []))


def create_sink_app(log: SinkLog, slack: SlackStandIn | None = None, base_url: str = "") -> Flask:
    app = Flask("sinks")
    if slack is not None:
        add_slack_stand_in(app, lambda receiver: [(r.path, r.body) for r in log.get(receiver)], slack, base_url)

    @app.post("/<receiver>")
    @app.post("/<receiver>/")
    @app.post("/<receiver>/<path:rest>")
    def receive(receiver: str, rest: str = "") -> Response:
        body = request.get_json(silent=True)
        headers = {k: v for k, v in request.headers.items() if k.lower() in ("user-agent", "content-type")}
        log.add(receiver, Received(datetime.now(UTC), request.path, body, headers))
        if receiver == "pagerduty":  # Events API v2 answers 202 with a dedup key
            return jsonify(status="success", message="Event processed", dedup_key=_dedup_key(body)), 202  # type: ignore[return-value]
        return Response("ok", status=200)

    @app.get("/received/<receiver>")
    def received(receiver: str) -> Response:
        items = [{"at": r.at.isoformat(), "path": r.path, "body": r.body} for r in log.get(receiver)]
        return jsonify(items)

    return app


def _dedup_key(body: Any) -> str:
    return str(body.get("dedup_key", "")) if isinstance(body, dict) else ""


class _Quiet(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


class SinkServer:
    """Run the sink app on a loopback port in a daemon thread."""

    def __init__(self, host: str, port: int, slack: SlackStandIn | None = None) -> None:
        self.log = SinkLog()
        self.slack = slack
        app = Flask("sinks-placeholder")
        self._server: BaseWSGIServer = make_server(host, port, app, threaded=True, request_handler=_Quiet)
        self.url = f"http://{host}:{self._server.server_port}"
        self._server.app = create_sink_app(self.log, slack, self.url)  # its own URL is the Slack response_url
        self._thread = threading.Thread(target=self._server.serve_forever, name="sinks", daemon=True)

    def start(self) -> SinkServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)

    def bodies(self, receiver: str) -> list[Any]:
        return [item.body for item in self.log.get(receiver)]


def dump(received: list[Received]) -> str:
    return json.dumps([{"at": r.at.isoformat(), "path": r.path, "body": r.body} for r in received], indent=2)
