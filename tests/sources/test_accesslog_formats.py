"""Access-log formats by configuration: real lines of every preset, JSON field mappings, custom regexes,
how websocket traffic, the broker's insufficient-funds 403 and the client are recognised, and the sample a
readiness check reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jwt
import pytest

from common.bot_config import AccessLogFormat
from sources.accesslog import AccessLogTail, LineFormat, MalformedLine, sample_file, sample_lines


def fmt(**config: Any) -> LineFormat:
    return LineFormat(AccessLogFormat.model_validate(config))


def token(sub: str) -> str:
    claims = {"sub": sub, "aud": "authenticated", "exp": 1}
    return jwt.encode(claims, "a-test-secret-that-is-32-bytes-long", algorithm="HS256")


NGINX = [
    '203.0.113.7 - - [24/Nov/2026:23:23:28 +0000] "GET /api/status HTTP/1.1" 401 45 "-" "Mozilla/5.0 (X11; Linux)"',
    '203.0.113.8 - alice [24/Nov/2026:23:23:29 +0000] "GET /ws?token=abc HTTP/1.1" 101 0 "-" "dashboard/2.1"',
    '198.51.100.4 - - [24/Nov/2026:23:23:30 +0000] "POST /api/trade HTTP/1.1" 403 88 "https://desk/" "desk/1.0"',
    '198.51.100.4 - - [24/Nov/2026:23:23:31 +0000] "GET /ws HTTP/1.1" 403 0 "-" "desk \\"beta\\" 1.0"',
]
APACHE = [
    '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 '
    '"http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"',
    '10.1.2.3 - - [10/Oct/2000:13:55:37 -0700] "GET /api/status HTTP/1.1" 403 - "-" "curl/8.5.0"',
]
GUNICORN = [
    '10.0.0.9 - - [24/Nov/2026:23:23:28 +0000] "GET /api/status HTTP/1.1" 200 512 "-" "python-requests/2.31.0"',
    '10.0.0.9 - - [24/Nov/2026:23:23:29 +0000] "GET /api/status HTTP/1.1" 401 - "-" "python-requests/2.31.0"',
]
UVICORN = [
    'INFO:     127.0.0.1:52786 - "GET /api/status HTTP/1.1" 401',
    'INFO:     10.0.0.5:5123 - "GET /api/status?x=1 HTTP/1.1" 200 OK',
    "INFO:     ('10.0.0.5', 5123) - \"WebSocket /ws\" 403",
    'INFO:     ::1:40000 - "WebSocket /ws?token=x" [accepted]',
    '\x1b[32mINFO\x1b[0m:     127.0.0.1:52787 - "POST /api/trade HTTP/1.1" \x1b[31m401 Unauthorized\x1b[0m',
]


def test_nginx_combined() -> None:
    events = [fmt(format="nginx-combined").parse(line) for line in NGINX]
    assert [(e.channel, e.method, e.path, e.status) for e in events] == [
        ("api", "GET", "/api/status", 401),
        ("websocket", "GET", "/ws", 101),
        ("api", "POST", "/api/trade", 403),
        ("websocket", "GET", "/ws", 403),
    ]
    assert [e.client for e in events] == ["addr:203.0.113.7", "user:alice", "addr:198.51.100.4",
                                          "addr:198.51.100.4"]
    assert events[0].ts is not None and events[0].ts.isoformat() == "2026-11-24T23:23:28+00:00"
    assert events[0].user_agent == "Mozilla/5.0 (X11; Linux)"
    assert [e.is_auth_failure for e in events] == [True, False, True, True]


def test_apache_combined_and_gunicorn_default() -> None:
    apache = [fmt(format="apache-combined").parse(line) for line in APACHE]
    assert [(e.path, e.status, e.client) for e in apache] == [
        ("/apache_pb.gif", 200, "user:frank"),
        ("/api/status", 403, "addr:10.1.2.3"),
    ]
    assert apache[0].ts is not None and apache[0].ts.isoformat() == "2000-10-10T20:55:36+00:00"
    gunicorn = [fmt(format="gunicorn").parse(line) for line in GUNICORN]
    assert [(e.channel, e.status, e.is_auth_failure, e.user_agent) for e in gunicorn] == [
        ("api", 200, False, "python-requests/2.31.0"),
        ("api", 401, True, "python-requests/2.31.0"),
    ]


def test_uvicorn_http_and_websocket_lines() -> None:
    events = [fmt(format="uvicorn").parse(line) for line in UVICORN]
    assert [(e.channel, e.method, e.path, e.status, e.client) for e in events] == [
        ("api", "GET", "/api/status", 401, "addr:127.0.0.1"),
        ("api", "GET", "/api/status", 200, "addr:10.0.0.5"),
        ("websocket", "WebSocket", "/ws", 403, "addr:10.0.0.5"),
        ("websocket", "WebSocket", "/ws", 101, "addr:::1"),
        ("api", "POST", "/api/trade", 401, "addr:127.0.0.1"),
    ]
    assert all(e.ts is None for e in events)  # uvicorn's default access line has no time


@pytest.mark.parametrize(
    ("preset", "line"),
    [
        ("nginx-combined", '{"ts": "x", "channel": "api", "status": 401}'),
        ("gunicorn", "[2026-11-24 23:23:28 +0000] [7] [INFO] Booting worker with pid: 7"),
        ("uvicorn", "INFO:     Started server process [1234]"),
        ("uvicorn", "INFO:     Application startup complete."),
    ],
)
def test_lines_that_are_not_requests_are_malformed(preset: str, line: str) -> None:
    with pytest.raises(MalformedLine, match=f"does not match the {preset} format"):
        fmt(format=preset).parse(line)


def test_json_with_a_nested_field_mapping() -> None:
    line_format = fmt(fields={
        "ts": "ts", "channel": None, "status": "status", "method": "request.method", "path": "request.uri",
        "remote_addr": "request.remote_ip", "user_agent": "request.headers.User-Agent", "user": None,
        "token": None, "error_code": "resp.code", "reason": None,
    })
    event = line_format.parse('{"ts": 1795562608.5, "status": "403", "resp": {"code": "40310000"}, '
                              '"request": {"method": "POST", "uri": "/api/trade?id=1", "remote_ip": "10.0.0.7", '
                              '"headers": {"User-Agent": ["desk/1.0"]}}}')
    assert (event.channel, event.method, event.path, event.status, event.error_code) == (
        "api", "POST", "/api/trade", 403, 40310000)
    assert event.insufficient_funds and not event.is_auth_failure
    assert event.client == "addr:10.0.0.7" and event.user_agent == ""
    assert event.ts is not None and event.ts.year == 2026
    websocket = line_format.parse('{"status": 401, "request": {"uri": "/ws/prices"}}')
    assert (websocket.channel, websocket.client, websocket.is_auth_failure) == ("websocket", None, True)
    with pytest.raises(MalformedLine, match="no status"):
        line_format.parse('{"state": 401, "request": {"uri": "/api/status"}}')


def test_a_custom_regex() -> None:
    line_format = fmt(format="regex", timestamp_format="%Y-%m-%dT%H:%M:%S%z",
                      regex=r"^(?P<ts>\S+) (?P<remote_addr>\S+) (?P<method>\S+) (?P<path>\S+) (?P<status>\d+) "
                            r"(?P<reason>\S+)(?: (?P<upgrade>\S+))?$")
    api = line_format.parse("2026-11-24T23:23:28+0000 10.0.0.1 GET /stream 401 bad_jwt")
    socket = line_format.parse("2026-11-24T23:23:28+0000 10.0.0.1 GET /stream 403 aud websocket")
    funds = line_format.parse("2026-11-24T23:23:28+0000 10.0.0.1 POST /orders 403 insufficient_funds")
    assert (api.channel, api.reason, api.is_auth_failure) == ("api", "bad_jwt", True)
    assert socket.channel == "websocket"  # by its upgrade field
    assert funds.insufficient_funds and not funds.is_auth_failure
    assert api.ts is not None and api.ts.hour == 23
    with pytest.raises(MalformedLine):
        line_format.parse("2026-11-24T23:23:28+0000 10.0.0.1 GET /stream")


def test_websocket_and_api_paths_and_insufficient_funds_by_path() -> None:
    line_format = fmt(format="nginx-combined", websocket={"path_prefixes": [], "path_regex": r"^/v\d+/stream"},
                      api_path_prefixes=["/api/", "/v1/"], insufficient_funds={"paths": ["/api/trade"]})
    events = [line_format.parse(NGINX[0].replace("/api/status", path)) for path in
              ("/v2/stream", "/ws", "/static/app.js", "/api/trade", "/v1/orders")]
    assert [e.channel for e in events] == ["websocket", "other", "other", "api", "api"]
    assert events[3].status == 401 and events[3].is_auth_failure  # only a 403 on that path is the broker's
    trade_403 = line_format.parse(NGINX[2])
    assert trade_403.insufficient_funds and not trade_403.is_auth_failure


def test_client_identity_order() -> None:
    line = json.dumps({"channel": "api", "status": 401, "remote_addr": "10.0.0.7", "token": token("user-7")})
    assert fmt().parse(line).client == "user:user-7"
    assert fmt(client_identity=["remote_addr", "token_subject"]).parse(line).client == "addr:10.0.0.7"
    assert fmt().parse('{"channel": "api", "status": 200, "user": "user-7"}').client == "user:user-7"
    assert fmt().parse('{"channel": "api", "status": 401, "token": "not-a-jwt"}').client is None


def test_whether_a_format_can_name_clients() -> None:
    assert fmt().identifies_clients and fmt(format="uvicorn").identifies_clients
    assert not fmt(format="regex", regex=r"(?P<path>\S+) (?P<status>\d+)").identifies_clients
    no_clients = {"user": None, "remote_addr": None, "token": None}
    assert not fmt(fields=no_clients).identifies_clients
    assert not fmt(format="nginx-combined", client_identity=["token_subject"]).identifies_clients


def test_the_tail_reads_the_configured_format(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.touch()
    tail = AccessLogTail(log, line_format=fmt(format="uvicorn"))
    tail.read_new()
    log.write_text("\n".join([*UVICORN, "INFO:     Shutting down"]) + "\n")
    chunk = tail.read_new()
    assert len(chunk.events) == len(UVICORN) and chunk.malformed == 1


def test_a_sample_says_how_lines_parse_and_classify(tmp_path: Path) -> None:
    lines = [*NGINX, "garbage", "", NGINX[0]]
    sample = sample_lines(lines, fmt(format="nginx-combined", insufficient_funds={"paths": ["/api/trade"]}))
    assert (sample.lines, sample.parsed, sample.malformed) == (6, 5, 1)
    assert sample.first_malformed == [(5, "does not match the nginx-combined format")]
    assert sample.classes == {("api", "auth_failure"): 2, ("websocket", "other"): 1,
                              ("api", "insufficient_funds"): 1, ("websocket", "auth_failure"): 1}
    assert sample.statuses[("api", 401)] == 2
    assert (sample.with_client, sample.clients) == (5, 3)
    log = tmp_path / "access.log"
    log.write_text("\n".join(NGINX * 10) + "\n")
    from_file = sample_file(log, fmt(format="nginx-combined"), last=6)
    assert (from_file.lines, from_file.parsed) == (6, 6)
    assert sample_file(tmp_path / "missing.log").lines == 0
