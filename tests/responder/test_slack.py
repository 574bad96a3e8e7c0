"""``POST /slack/interactions``: forged, stale, replayed and unknown-user requests are refused; a signed
click records the decision like the console does and replaces the message; a double click acts once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, request

from responder.ledger.schema import approvals
from tests.responder.consoleops import CONSOLE_ENV, SLACK_USERS, slack_click, slack_headers, write_operators
from tests.responder.harness import Harness, harness, sections
from tests.responder.payloads import alert, ghost_labels, notification
from tests.responder.servers import FakeBroker, SlackCapture
from tests.support.botstate import add_account, add_profile
from tests.support.wsgi import serve_wsgi


@pytest.fixture
def updates() -> Iterator[tuple[list[dict[str, Any]], str]]:
    """Slack's response_url: the message updates the responder sends."""
    received: list[dict[str, Any]] = []
    app = Flask("response-url")

    @app.post("/respond")
    def respond() -> str:
        received.append(request.get_json(force=True))
        return "ok"

    with serve_wsgi(app) as url:
        yield received, f"{url}/respond"


@pytest.fixture
def slack_responder(
    tmp_path: Path, db_url: str, broker: tuple[FakeBroker, str], slack: tuple[SlackCapture, str]
) -> Iterator[Harness]:
    config = sections(tmp_path, db_url, broker={"base_url": broker[1]}, responder={
        "max_close_notional": 1000, "console": {"operators_file": str(write_operators(tmp_path / "ops.yml"))}})
    with harness(tmp_path, config, env={**CONSOLE_ENV, "SLACK_WEBHOOK_URL": slack[1]}) as h:
        add_account(h.bot, "acct-1", "key-acct-1")
        add_profile(h.bot, "p-1", "acct-1", datetime.now(UTC))
        yield h


def click(h: Harness, body: bytes, **headers: Any) -> Any:
    return h.client.post("/slack/interactions", data=body, headers={**slack_headers(body), **headers})


def waiting_reconcile(h: Harness, slack: SlackCapture, fake: FakeBroker) -> tuple[int, str, list[dict[str, Any]]]:
    fake.positions[("key-acct-1", "MSFT")] = (50.0, 100.0)
    (run_id,) = h.post(notification(alert(ghost_labels("p-1", symbol="MSFT")))).json["runs"]
    h.drain()
    step = h.step(run_id, "reconcile")
    (request_,) = [r for r in slack.requests if f"(#{step.id})" in str(r["blocks"])]
    buttons = next(b for b in request_["blocks"] if b["type"] == "actions")["elements"]
    assert [b["action_id"] for b in buttons] == ["approve", "reject"]
    return step.id, buttons[0]["value"], request_["blocks"]


def test_forged_stale_replayed_and_unknown_user_requests_are_refused(
    slack_responder: Harness, slack: tuple[SlackCapture, str], broker: tuple[FakeBroker, str]
) -> None:
    h = slack_responder
    step_id, value, _ = waiting_reconcile(h, slack[0], broker[0])
    body = slack_click(value, SLACK_USERS["alice"], "approve")
    forged = h.client.post("/slack/interactions", data=body, headers=slack_headers(body, secret="not-the-secret"))
    assert forged.status_code == 401
    old = slack_headers(body, timestamp=int(time.time()) - 301)
    stale = h.client.post("/slack/interactions", data=body, headers=old)
    assert stale.status_code == 401
    unsigned = h.client.post("/slack/interactions", data=body, content_type="application/x-www-form-urlencoded")
    assert unsigned.status_code == 401
    stranger = slack_click(value, "UMALLORY1", "approve")
    assert click(h, stranger).status_code == 403
    assert h.step(h.step_run(step_id), "reconcile").state == "awaiting_approval"
    headers = slack_headers(body)
    first = h.client.post("/slack/interactions", data=body, headers=headers)
    assert first.status_code == 200 and first.json["result"] == "approved"
    replay = h.client.post("/slack/interactions", data=body, headers=headers)
    assert replay.status_code == 409
    with h.ledger.connect() as conn:
        assert conn.execute(approvals.select()).all()[-1].surface == "slack"


def test_a_click_decides_like_the_console_and_updates_the_message_and_a_double_click_acts_once(
    slack_responder: Harness,
    slack: tuple[SlackCapture, str],
    broker: tuple[FakeBroker, str],
    updates: tuple[list[dict[str, Any]], str],
) -> None:
    h = slack_responder
    step_id, value, blocks = waiting_reconcile(h, slack[0], broker[0])
    no_reason = click(h, slack_click(value, SLACK_USERS["bob"], "reject"))
    assert "needs a reason" in no_reason.json["text"]
    body = slack_click(value, SLACK_USERS["bob"], "reject", "hedged already", updates[1], blocks)
    assert click(h, body).json["result"] == "rejected"
    time.sleep(0.01)
    again = slack_click(value, SLACK_USERS["bob"], "reject", "hedged already ", updates[1], blocks)
    assert click(h, again).json["result"] == "not_waiting"
    step = h.step(h.step_run(step_id), "reconcile")
    assert (step.state, step.decided_by, step.decision_reason) == ("rejected", "bob", "hedged already")
    update = updates[0][0]
    assert update["replace_original"] is True and "Rejected by bob" in update["text"]
    assert not [b for b in update["blocks"] if b["type"] == "actions"]  # no buttons once decided
    h.drain()
    close = h.step(h.step_run(step_id), "close")
    (close_request,) = [r for r in slack[0].requests if f"(#{close.id})" in str(r["blocks"])]
    close_value = next(b for b in close_request["blocks"] if b["type"] == "actions")["elements"][0]["value"]
    assert click(h, slack_click(close_value, SLACK_USERS["alice"], "approve")).json["result"] == "first_approval"
    double = slack_click(close_value, SLACK_USERS["alice"], "approve", " ")
    assert click(h, double).json["result"] == "already_decided"
    assert click(h, slack_click(close_value, SLACK_USERS["bob"], "approve")).json["result"] == "approved"
    h.drain()
    assert h.step(close.run_id, "close").state == "succeeded"
    assert broker[0].calls.count("POST /v2/orders") == 1
