"""The local stack's Slack stand-in signs clicks like Slack: a person clicks Approve on the approval request it
shows and the decision reaches ``POST /slack/interactions`` verified, and the message is updated; a stand-in
signing with another secret is refused."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from responder.web import create_app
from stack.sinks import SinkServer
from stack.slack import SLACK_RECEIVER, SlackStandIn
from tests.responder.consoleops import CONSOLE_ENV, SIGNING_SECRET, SLACK_USERS, write_operators
from tests.responder.harness import Harness, harness, sections
from tests.responder.payloads import alert, ghost_labels, notification
from tests.responder.servers import FakeBroker
from tests.support.botstate import add_account, add_profile
from tests.support.wsgi import serve_wsgi


@pytest.fixture
def stand_in() -> Iterator[SinkServer]:
    slack = SlackStandIn(SIGNING_SECRET, "", dict(SLACK_USERS))
    sinks = SinkServer("127.0.0.1", 0, slack).start()
    try:
        yield sinks
    finally:
        sinks.stop()


@pytest.fixture
def responder(tmp_path: Path, db_url: str, broker: tuple[FakeBroker, str], stand_in: SinkServer) -> Iterator[Harness]:
    """A responder whose Slack webhook is the stand-in, and the stand-in clicking into it over real HTTP."""
    config = sections(tmp_path, db_url, broker={"base_url": broker[1]}, responder={
        "max_close_notional": 1000, "console": {"operators_file": str(write_operators(tmp_path / "ops.yml"))}})
    env = {**CONSOLE_ENV, "SLACK_WEBHOOK_URL": f"{stand_in.url}/{SLACK_RECEIVER}"}
    with harness(tmp_path, config, env=env) as h, serve_wsgi(create_app(h.runtime)) as url:
        add_account(h.bot, "acct-1", "key-acct-1")
        add_profile(h.bot, "p-1", "acct-1", datetime.now(UTC))
        assert stand_in.slack is not None
        stand_in.slack.interactions_url = f"{url}/slack/interactions"
        yield h


def waiting_reconcile(h: Harness, fake: FakeBroker) -> int:
    fake.positions[("key-acct-1", "MSFT")] = (50.0, 100.0)
    (run_id,) = h.post(notification(alert(ghost_labels("p-1", symbol="MSFT")))).json["runs"]
    h.drain()
    return h.step(run_id, "reconcile").id


def message_of(page: str, step_id: int) -> str:
    found = re.search(rf'id="message-(\d+)">(?:(?!</div>).)*\(#{step_id}\)', page, re.S)
    assert found, page
    return found.group(1)


def test_a_click_on_the_stand_in_reaches_the_responder_signed_and_updates_the_message(
    responder: Harness, stand_in: SinkServer, broker: tuple[FakeBroker, str]
) -> None:
    h = responder
    step_id = waiting_reconcile(h, broker[0])
    page = requests.get(f"{stand_in.url}/slack", timeout=10).text
    assert "Approve" in page and "Reject" in page
    message = message_of(page, step_id)
    clicked = requests.post(f"{stand_in.url}/slack/click", timeout=30, headers={"Accept": "application/json"},
                            data={"message": message, "user": "alice", "action": "approve", "reason": "checked"})
    assert clicked.json()["said"].startswith("HTTP 200: Approved by alice")
    step = h.step(h.step_run(step_id), "reconcile")
    assert (step.state, step.decided_by) == ("approved", "alice")
    after = requests.get(f"{stand_in.url}/slack", timeout=10).text  # the responder replaced the message
    assert "Approved by alice" in after and f'name="message" value="{message}"' not in after


def test_a_click_signed_with_another_secret_is_refused(
    responder: Harness, stand_in: SinkServer, broker: tuple[FakeBroker, str]
) -> None:
    h = responder
    step_id = waiting_reconcile(h, broker[0])
    assert stand_in.slack is not None
    stand_in.slack.signing_secret = "not-the-responders-secret"
    message = message_of(requests.get(f"{stand_in.url}/slack", timeout=10).text, step_id)
    clicked = requests.post(f"{stand_in.url}/slack/click", timeout=30, headers={"Accept": "application/json"},
                            data={"message": message, "user": "alice", "action": "approve"})
    assert clicked.json()["said"].startswith("HTTP 401")
    assert h.step(h.step_run(step_id), "reconcile").state == "awaiting_approval"
