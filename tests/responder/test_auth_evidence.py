"""The auth playbook's evidence from the access log in its configured format: rejections by reason and by
client, and what /health/ready says about its degraded fields; without a log, the health part only."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, Response, jsonify

from tests.responder.harness import harness, sections
from tests.responder.payloads import alert, notification
from tests.support.wsgi import serve_wsgi

SPIKE = {"alertname": "AuthFailureSpike", "severity": "sev2", "channel": "api"}
HEALTH = {"degraded_fields": [{"path": "services.alpaca", "name": "alpaca", "healthy": ["configured"]}]}


@pytest.fixture
def bot_url() -> Iterator[str]:
    app = Flask("ready-but-degraded")

    @app.get("/health/ready")
    def ready() -> Response:
        return jsonify({"status": "healthy", "services": {"alpaca": "error"}})

    with serve_wsgi(app) as url:
        yield url


def nginx(addr: str, path: str, status: int) -> str:
    when = datetime.now(UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")
    return f'{addr} - - [{when}] "GET {path} HTTP/1.1" {status} 12 "-" "dashboard/2.1"'


def evidence(tmp_path: Path, bot: dict[str, Any]) -> dict[str, Any]:
    config = sections(tmp_path, f"sqlite:///{tmp_path}/db.sqlite3", bot=bot)
    with harness(tmp_path, config) as h:
        run_id = h.post(notification(alert(SPIKE))).json["runs"][0]
        h.drain()
        step = h.step(run_id, "evidence")
    assert step.state == "succeeded", step.error
    output: dict[str, Any] = step.output
    return output


def test_evidence_from_an_nginx_log_names_the_failing_client(tmp_path: Path, bot_url: str) -> None:
    log = tmp_path / "access.log"
    lines = [nginx("198.51.100.9", "/api/status", 401) for _ in range(6)]
    lines += [nginx(f"10.0.0.{n}", "/api/status", 200) for n in range(1, 4)]
    lines += [nginx("10.0.0.1", "/ws", 403), nginx("10.0.0.2", "/static/app.js", 401), "not a request line"]
    log.write_text("\n".join(lines) + "\n")
    bot = {"base_url": bot_url, "access_log": str(log), "health": HEALTH,
           "access_log_format": {"format": "nginx-combined", "api_path_prefixes": ["/api/"]}}
    output = evidence(tmp_path, bot)
    assert (output["requests"], output["failures"], output["malformed_lines"]) == (9, 6, 1)  # api channel only
    assert output["top_failing_clients"] == {"addr:198.51.100.9": 6}
    assert (output["failing_clients"], output["active_clients"]) == (1, 4)
    assert output["by_reason"] == {"api 401 -": 6}
    assert output["bot_health"] == {"http_status": 200, "ready": True, "degraded_fields": ["alpaca"],
                                    "fields": {"alpaca": '"error"'}}


def test_without_an_access_log_the_evidence_is_the_health_only(tmp_path: Path, bot_url: str) -> None:
    output = evidence(tmp_path, {"base_url": bot_url, "access_log": None, "health": HEALTH})
    assert output["failures"] == 0 and output["bot_health"]["degraded_fields"] == ["alpaca"]
    assert output["summary"].startswith("no access log configured")
