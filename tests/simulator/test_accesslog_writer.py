"""The simulator writes its bot's access log in the configured format, and the exporters' parser reads back
what it wrote: today's JSON, JSON with other (nested) keys, combined, gunicorn and uvicorn lines."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from common.bot_config import AccessLogFormat
from common.config import ConfigError
from simulator.bot.accesslog import AccessLogWriter, AccessRecord
from sources.accesslog import LineFormat

NOW = datetime(2026, 11, 24, 23, 23, 28, 426000, tzinfo=UTC)
RECORDS = [
    AccessRecord("api", "GET", "/api/status", 200, "ok", user="user-1", remote_addr="10.0.0.1", remote_port=5001,
                 user_agent='dashboard "beta"'),
    AccessRecord("api", "GET", "/api/status", 401, "token_expired", token="eyJhbGciOiJIUzI1NiJ9.e30.sig",
                 remote_addr="10.0.0.2", remote_port=5002),
    AccessRecord("websocket", "GET", "/ws", 403, "wrong_audience", remote_addr="10.0.0.3", remote_port=5003),
    AccessRecord("websocket", "GET", "/ws", 200, "ok", user="user-3", remote_addr="10.0.0.3", remote_port=5004),
    AccessRecord("api", "POST", "/api/trade", 403, "insufficient_funds", error_code=40310000,
                 remote_addr="10.0.0.1", remote_port=5005),
]
NESTED = {"ts": "time", "channel": None, "status": "http.status", "method": "http.method", "path": "http.path",
          "remote_addr": "client.ip", "user": "client.user", "user_agent": None, "reason": "error.reason",
          "error_code": "error.code", "token": None}


@pytest.mark.parametrize(
    ("config", "clients", "funds_excluded"),
    [
        ({}, ["user:user-1", "addr:10.0.0.2", "addr:10.0.0.3", "user:user-3", "addr:10.0.0.1"], True),
        ({"fields": NESTED}, ["user:user-1", "addr:10.0.0.2", "addr:10.0.0.3", "user:user-3", "addr:10.0.0.1"], True),
        ({"format": "nginx-combined", "insufficient_funds": {"paths": ["/api/trade"]}},
         ["user:user-1", "addr:10.0.0.2", "addr:10.0.0.3", "user:user-3", "addr:10.0.0.1"], True),
        ({"format": "gunicorn"}, ["user:user-1", "addr:10.0.0.2", "addr:10.0.0.3", "user:user-3", "addr:10.0.0.1"],
         False),
        ({"format": "uvicorn"}, ["addr:10.0.0.1", "addr:10.0.0.2", "addr:10.0.0.3", "addr:10.0.0.3", "addr:10.0.0.1"],
         False),
    ],
    ids=["json", "json-nested", "nginx-combined", "gunicorn", "uvicorn"],
)
def test_what_the_simulator_writes_the_exporters_read(
    tmp_path: Path, config: dict[str, Any], clients: list[str], funds_excluded: bool
) -> None:
    line_format = AccessLogFormat.model_validate(config)
    log = tmp_path / "access.log"
    writer = AccessLogWriter(log, lambda: NOW, line_format)
    for record in RECORDS:
        writer.write(record)
    parser = LineFormat(line_format)
    events = [parser.parse(line) for line in log.read_text().splitlines()]
    accepted = 101 if line_format.format == "uvicorn" else 200  # uvicorn logs an accepted handshake as [accepted]
    expected = [(r.channel, r.path, accepted if r.channel == "websocket" and r.status == 200 else r.status)
                for r in RECORDS]
    assert [(e.channel, e.path, e.status) for e in events] == expected
    assert [e.client for e in events] == clients
    assert [e.is_auth_failure for e in events] == [False, True, True, False, not funds_excluded]
    if line_format.format in ("json", "nginx-combined", "gunicorn"):
        assert events[0].ts is not None and events[0].ts.replace(microsecond=0) == NOW.replace(microsecond=0)


def test_today_s_json_line_is_unchanged_but_for_the_client(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    AccessLogWriter(log, lambda: NOW).write(RECORDS[1])
    assert log.read_text() == (
        '{"ts":"2026-11-24T23:23:28.426000Z","channel":"api","method":"GET","path":"/api/status","status":401,'
        '"reason":"token_expired","error_code":null,"token":"eyJhbGciOiJIUzI1NiJ9.e30.sig","user_agent":"",'
        '"user":null,"remote_addr":"10.0.0.2"}\n'
    )


def test_no_log_or_a_custom_regex(tmp_path: Path) -> None:
    AccessLogWriter(None, lambda: NOW).write(RECORDS[0])  # nothing to write to: nothing happens
    regex = AccessLogFormat.model_validate({"format": "regex", "regex": r"(?P<path>\S+) (?P<status>\d+)"})
    with pytest.raises(ConfigError, match="the simulator writes json or a preset, not a custom regex"):
        AccessLogWriter(tmp_path / "x.log", lambda: NOW, regex)
