"""The Slack stand-in's interactive side: the approval requests the responder posted, with buttons a person
can click, and each click sent to the responder's ``POST /slack/interactions`` signed like Slack.

Slack signs an interaction callback with the app's signing secret (signature version ``v0``):
``X-Slack-Signature: v0=<hex HMAC-SHA256 of "v0:{timestamp}:{raw body}">`` and
``X-Slack-Request-Timestamp: {timestamp}``; the body is form-encoded ``payload=<block_actions JSON>`` carrying
the clicking user's id, the button's ``action_id`` and ``value``, the reason typed into the message's input,
the message's blocks and a ``response_url`` (here the stand-in's own, where the responder's update of the
message is recorded). `GET /slack` lists the requests; `POST /slack/click` clicks one as an operator.

A stand-in for a local demo, on loopback: whoever can reach it can click as any listed operator.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import requests
from flask import Flask, Response, redirect, render_template_string, request
from werkzeug.wrappers import Response as BaseResponse

SLACK_RECEIVER = "slack-responder"  # where the local stack's responder posts its notices (SLACK_WEBHOOK_URL)
RESPONSES = "slack-response"  # the response_url the stand-in hands out: the responder's message updates


@dataclass
class SlackStandIn:
    """What the stand-in signs with and whom it clicks as; `interactions_url` may be set after start."""

    signing_secret: str
    interactions_url: str
    users: Mapping[str, str]  # operator name -> Slack user id (the responder's operators file maps them back)
    timeout: float = 10.0


def signature_headers(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """Slack's request signature (``v0``) of `body` at `timestamp` (now when None)."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


def block_actions(user_id: str, button: Mapping[str, Any], reason: str, response_url: str,
                  blocks: list[dict[str, Any]]) -> bytes:
    """A click on `button` of a message with `blocks`, form-encoded as Slack posts it."""
    payload = {
        "type": "block_actions",
        "user": {"id": user_id},
        "actions": [{"type": "button", "action_id": button["action_id"], "value": button["value"]}],
        "state": {"values": {"reason": {"reason": {"type": "plain_text_input", "value": reason}}}},
        "response_url": response_url,
        "message": {"blocks": blocks},
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


def buttons(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The message's buttons (the approval request's Approve / Reject)."""
    return [
        element
        for block in blocks if isinstance(block, dict) and block.get("type") == "actions"
        for element in block.get("elements") or [] if isinstance(element, dict) and element.get("type") == "button"
    ]


PAGE = """<!doctype html><title>Slack stand-in</title><style>.message{border:1px solid #ccc;padding:8px}</style>
<h1>Slack stand-in: approval requests</h1>
{% if said %}<p id="said"><strong>{{ said }}</strong></p>{% endif %}
{% for message in messages %}<div class="message" id="message-{{ message.index }}">
{% for text in message.texts %}<pre>{{ text }}</pre>{% endfor %}
{% if message.buttons %}<form method="post" action="/slack/click">
 <input type="hidden" name="message" value="{{ message.index }}">
 as <select name="user">{% for name in users %}<option>{{ name }}</option>{% endfor %}</select>
 reason <input name="reason" size="40">
 {% for b in message.buttons %}<button name="action" value="{{ b.action_id }}">{{ b.text.text }}</button>{% endfor %}
</form>{% endif %}</div>{% else %}<p>No approval request yet.</p>{% endfor %}
"""


def add_slack_stand_in(app: Flask, received: Callable[[str], list[Any]], slack: SlackStandIn, base_url: str) -> None:
    """Serve the requests and the clicks on `app`; `received(receiver)` gives the bodies each sink recorded."""

    def messages() -> list[dict[str, Any]]:
        updates: dict[int, dict[str, Any]] = {}
        for path, body in received(RESPONSES):
            index = path.rsplit("/", 1)[-1]
            if index.isdigit() and isinstance(body, dict):
                updates[int(index)] = body  # the latest update replaces the message, as Slack does
        found = []
        for index, (_, body) in enumerate(received(SLACK_RECEIVER)):
            body = updates.get(index, body)
            blocks = [b for b in (body.get("blocks") or []) if isinstance(b, dict)] if isinstance(body, dict) else []
            if buttons(blocks) or index in updates:
                texts = [str((b.get("text") or {}).get("text", "")) for b in blocks if b.get("type") == "section"]
                found.append({"index": index, "texts": texts, "blocks": blocks, "buttons": buttons(blocks)})
        return found

    @app.get("/slack")
    def slack_page() -> str:
        return render_template_string(PAGE, messages=messages(), users=list(slack.users),
                                      said=request.args.get("said", ""))

    @app.post("/slack/click")
    def slack_click() -> Response | BaseResponse | tuple[str, int]:
        index, user = request.form.get("message", ""), request.form.get("user", "")
        message = next((m for m in messages() if str(m["index"]) == index), None)
        button = next((b for b in message["buttons"] if b["action_id"] == request.form.get("action")), None) \
            if message else None
        if message is None or button is None or user not in slack.users:
            return "no such message, button or operator", 404
        body = block_actions(slack.users[user], button, request.form.get("reason", ""),
                             f"{base_url}/{RESPONSES}/{index}", message["blocks"])
        said = _send(slack, body)
        if request.accept_mimetypes.best == "application/json":
            return Response(json.dumps({"said": said}), mimetype="application/json")
        return redirect(f"/slack?{urlencode({'said': said})}")


def _send(slack: SlackStandIn, body: bytes) -> str:
    """Post the signed click to the responder; what it answered, in words."""
    try:
        answer = requests.post(slack.interactions_url, data=body, timeout=slack.timeout,
                               headers=signature_headers(slack.signing_secret, body))
    except requests.RequestException as exc:
        return f"the responder did not answer ({type(exc).__name__})"
    try:
        text = str(answer.json().get("text") or answer.json().get("error") or "")
    except ValueError:
        text = answer.text[:200]
    return f"HTTP {answer.status_code}: {text}"
