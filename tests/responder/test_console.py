"""The console over the Flask test client: login required, wrong logins and missing CSRF tokens refused,
sessions that expire, a trusted proxy's header believed only from its address, decisions recorded."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from responder.web import create_app
from tests.responder.consoleops import CONSOLE_ENV, PASSWORDS, write_operators
from tests.responder.harness import Harness, harness, sections
from tests.responder.payloads import alert, ghost_labels, notification
from tests.responder.servers import FakeBroker
from tests.support.botstate import add_account, add_profile

NOW = [datetime.now(UTC)]


@pytest.fixture
def console(tmp_path: Path, db_url: str, broker: tuple[FakeBroker, str]) -> Iterator[Harness]:
    NOW[0] = datetime.now(UTC)
    config = sections(tmp_path, db_url, broker={"base_url": broker[1]}, responder={
        "max_close_notional": 1000,
        "console": {"operators_file": str(write_operators(tmp_path / "operators.yml")), "idle_minutes": 30,
                    "proxy_user_header": "X-Forwarded-User", "trusted_proxies": ["127.0.0.2"]},
    })
    with harness(tmp_path, config, env=CONSOLE_ENV, clock=lambda: NOW[0]) as h:
        add_account(h.bot, "acct-1", "key-acct-1")
        add_profile(h.bot, "p-1", "acct-1", NOW[0])
        yield h


def csrf(client: FlaskClient, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page[:500]
    return found.group(1)


def login(client: FlaskClient, name: str) -> None:
    token = csrf(client, "/console/login")
    answer = client.post("/console/login", data={"name": name, "password": PASSWORDS[name], "csrf_token": token})
    assert answer.status_code == 302, answer.get_data(as_text=True)


def test_pages_need_a_login_and_a_wrong_password_is_refused(console: Harness) -> None:
    client = console.client
    assert client.get("/console/").status_code == 302
    assert client.get("/console/approvals").headers["Location"].startswith("/console/login")
    token = csrf(client, "/console/login")
    wrong = client.post("/console/login", data={"name": "alice", "password": "nope", "csrf_token": token})
    assert wrong.status_code == 401 and "Wrong operator name or password" in wrong.get_data(as_text=True)
    unknown = client.post("/console/login", data={"name": "mallory", "password": "x", "csrf_token": token})
    assert unknown.status_code == 401
    login(client, "alice")
    page = client.get("/console/")
    assert page.status_code == 200 and 'id="operator">alice<' in page.get_data(as_text=True)


def test_a_form_without_its_csrf_token_is_refused(console: Harness) -> None:
    client = console.client
    no_token = client.post("/console/login", data={"name": "alice", "password": PASSWORDS["alice"]})
    assert no_token.status_code == 400 and "CSRF" in no_token.get_data(as_text=True)
    login(client, "alice")
    refused = client.post("/console/profiles/p-1/enable", data={"reason": "x"})
    assert refused.status_code == 400


def test_a_session_expires_when_idle(console: Harness) -> None:
    client = console.client
    login(client, "alice")
    assert client.get("/console/").status_code == 200
    NOW[0] += timedelta(minutes=31)
    assert client.get("/console/").status_code == 302


def test_the_proxy_header_is_believed_only_from_the_trusted_proxy(console: Harness) -> None:
    client = console.client
    header = {"X-Forwarded-User": "bob"}
    assert client.get("/console/", headers=header).status_code == 302  # from 127.0.0.1: not the proxy
    trusted = client.get("/console/", headers=header, environ_base={"REMOTE_ADDR": "127.0.0.2"})
    assert trusted.status_code == 200 and 'id="operator">bob<' in trusted.get_data(as_text=True)
    stranger = client.get("/console/", headers={"X-Forwarded-User": "mallory"},
                          environ_base={"REMOTE_ADDR": "127.0.0.2"})
    assert stranger.status_code == 302


def test_two_operators_approve_a_close_from_the_console(console: Harness, broker: tuple[FakeBroker, str]) -> None:
    h, fake = console, broker[0]
    fake.positions[("key-acct-1", "MSFT")] = (50.0, 100.0)
    (run_id,) = h.post(notification(alert(ghost_labels("p-1", symbol="MSFT")))).json["runs"]
    h.drain()
    alice = h.client
    login(alice, "alice")
    page = alice.get(f"/console/incidents/{run_id}").get_data(as_text=True)
    assert "GhostPosition" in page and "broker position" in page and "Timeline" in page
    reconcile = h.step(run_id, "reconcile")
    token = csrf(alice, "/console/approvals")
    answer = alice.post(f"/console/approvals/{reconcile.id}", data={"decision": "reject", "reason": "not now",
                                                                    "csrf_token": token})
    assert answer.status_code == 302
    h.drain()
    close = h.step(run_id, "close")
    queue = alice.get("/console/approvals").get_data(as_text=True)
    assert "close 50 MSFT (long) on acct-1 at market, notional 5000.00" in queue
    alice.post(f"/console/approvals/{close.id}", data={"decision": "approve", "csrf_token": token})
    assert h.step(run_id, "close").state == "awaiting_approval"
    bob = create_app(h.runtime).test_client()
    login(bob, "bob")
    bob.post(f"/console/approvals/{close.id}", data={"decision": "approve", "reason": "desk agrees",
                                                     "csrf_token": csrf(bob, "/console/approvals")})
    h.drain()
    done = h.step(run_id, "close")
    assert (done.state, done.decided_by) == ("succeeded", "alice, bob")
    timeline = alice.get(f"/console/incidents/{run_id}").get_data(as_text=True)
    assert "approved by bob via console: desk agrees" in timeline and "close [close_position]: succeeded" in timeline


def test_the_kill_switch_page_engages_once_and_needs_a_reason_and_a_csrf_token(console: Harness) -> None:
    client = console.client
    login(client, "alice")
    page = client.get("/console/kill-switch").get_data(as_text=True)
    assert 'id="kill-switch-armed"' in page and 'value="flatten"' in page and 'value="p-1"' in page
    assert client.post("/console/kill-switch", data={"level": "stop-entries", "reason": "drill"}).status_code == 400
    token = csrf(client, "/console/kill-switch")
    unexplained = client.post("/console/kill-switch", data={"level": "stop-entries", "csrf_token": token},
                              follow_redirects=True)
    assert "needs a reason" in unexplained.get_data(as_text=True)
    form = {"level": "stop-entries", "profile": "p-1", "reason": "drill", "csrf_token": token}
    engaged = client.post("/console/kill-switch", data=form, follow_redirects=True).get_data(as_text=True)
    assert "Kill switch stop-entries engaged for p-1" in engaged and 'id="engaged-stop-entries"' in engaged
    twice = client.post("/console/kill-switch", data=form, follow_redirects=True).get_data(as_text=True)
    assert "was already engaged" in twice
    (run_id,) = console.run_ids()
    console.drain()
    incidents = client.get("/console/").get_data(as_text=True)
    assert "KillSwitch" in incidents and "profiles p-1, level stop-entries" in incidents
    incident = client.get(f"/console/incidents/{run_id}").get_data(as_text=True)
    assert "stop-entries [stop_entries]: succeeded" in incident and "inactive" in incident
