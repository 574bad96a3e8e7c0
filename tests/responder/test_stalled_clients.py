"""Slow or stalled clients cannot starve deliveries or health checks: with 200 connections that sent half a
request and went silent, the real server (``python -m responder``) answers both within the usual latency."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from tests.responder.harness import WEBHOOK_TOKEN, sections
from tests.responder.payloads import alert, ghost_labels, notification
from tests.responder.processes import ResponderProcess, responder_process

STALLED = 200
# "The usual latency" on this shared 2-core machine: a delivery is a few milliseconds; a second allows for load.
ANSWER_WITHIN_SECONDS = 1.0
HALF_REQUESTS = (
    b"POST /alerts HTTP/1.1\r\nHost: responder\r\nContent-Type: application/json\r\n",  # headers never end
    b"POST /alerts HTTP/1.1\r\nHost: responder\r\nContent-Length: 5000\r\n\r\n{\"receiver\": ",  # body never ends
    b"GET /health/li",  # request line never ends
)


@contextmanager
def stalled_connections(url: str, count: int) -> Iterator[list[socket.socket]]:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    opened = []
    try:
        for n in range(count):
            sock = socket.create_connection((host, int(port)), timeout=5)
            sock.sendall(HALF_REQUESTS[n % len(HALF_REQUESTS)])
            opened.append(sock)
        time.sleep(0.5)  # the server has read what they sent
        yield opened
    finally:
        for sock in opened:
            sock.close()


def timed(call: object) -> float:
    started = time.monotonic()
    call()  # type: ignore[operator]
    return time.monotonic() - started


def deliver(responder: ResponderProcess, n: int) -> None:
    answer = requests.post(f"{responder.url}/alerts", json=notification(alert(ghost_labels(f"p-{n}"))),
                           headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}"}, timeout=ANSWER_WITHIN_SECONDS * 5)
    assert answer.status_code == 200, answer.text


def test_200_stalled_connections_do_not_delay_deliveries_or_health_checks(tmp_path: Path) -> None:
    config = sections(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite3'}", responder={"mode": "off"})
    with responder_process(tmp_path, config) as responder, stalled_connections(responder.url, STALLED):
        health = [timed(lambda: requests.get(f"{responder.url}/health/live", timeout=10).raise_for_status())
                  for _ in range(10)]
        deliveries = [timed(lambda n=n: deliver(responder, n)) for n in range(10)]
        ready = requests.get(f"{responder.url}/health/ready", timeout=10)
    assert ready.status_code == 200
    assert max(health) < ANSWER_WITHIN_SECONDS, health
    assert max(deliveries) < ANSWER_WITHIN_SECONDS, deliveries


def test_stalled_connections_are_closed_after_the_read_timeout(tmp_path: Path) -> None:
    config = sections(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite3'}",
                      responder={"mode": "off", "request_read_timeout_seconds": 1.0})
    with responder_process(tmp_path, config) as responder, stalled_connections(responder.url, 6) as opened:
        time.sleep(1.5)
        answers = []
        for sock in opened:
            sock.settimeout(3)
            answers.append(sock.recv(200))
    headers_stalled, body_stalled = answers[0::3] + answers[2::3], answers[1::3]
    assert all(answer == b"" for answer in headers_stalled), answers  # closed without an answer
    assert all(answer.startswith(b"HTTP/1.1 408") for answer in body_stalled), answers
