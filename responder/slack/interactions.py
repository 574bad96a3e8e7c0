"""``POST /slack/interactions``: Slack's signed interactive payloads (signature version ``v0``).

In order, none of which decides anything before it passes: the signature (HMAC-SHA256 of
``v0:{X-Slack-Request-Timestamp}:{raw body}`` with ``$SLACK_SIGNING_SECRET``, compared in constant time by
slack_sdk's `SignatureVerifier`; timestamps more than 5 minutes away refused), a replay (the same signed
request seen before, by any replica: the ledger keeps its digest), the payload, the Slack user (mapped to
an operator by the operators file's ``slack_user_id``). The decision then goes through
`responder.operations` exactly like the console's, and the message is replaced to show the result.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, Response, jsonify, request
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from common.db import write_transaction
from responder.ledger.schema import slack_requests
from responder.ledger.store import insert_ignoring_conflicts
from responder.logs import log
from responder.runtime import Runtime
from responder.slack import messages
from responder.states import Decision
from responder.web.common import error, runtime

logger = logging.getLogger(__name__)
blueprint = Blueprint("slack", __name__)
MAX_BODY = 64 * 1024
REPLAY_WINDOW = timedelta(minutes=10)  # longer than the 5 minutes a timestamp is accepted for


class _Clock:
    def __init__(self, rt: Runtime) -> None:
        self._rt = rt

    def now(self) -> float:
        return self._rt.clock().timestamp()


@dataclass(frozen=True)
class Click:
    user_id: str
    step_id: int
    round: int
    decision: Decision
    reason: str
    response_url: str | None
    blocks: list[dict[str, Any]]


@blueprint.post("/slack/interactions")
def interactions() -> tuple[Response, int]:
    rt = runtime()
    secret = rt.settings.secrets.slack_signing_secret
    if not secret:
        return error(503, "Slack interactions are not configured (no signing secret)")
    if (request.content_length or 0) > MAX_BODY:
        return error(413, "body too large")
    body = request.get_data(cache=True)
    if not _signed(secret, rt, body):
        log(logger, logging.WARNING, "slack request refused: bad or stale signature")
        return error(401, "invalid or stale Slack signature")
    if not _first_time(rt, request.headers.get("X-Slack-Signature", ""), body):
        log(logger, logging.WARNING, "slack request refused: replayed")
        return error(409, "this request was already handled (replay)")
    click = _parse(request.form.get("payload", ""))
    if click is None:
        return error(400, "not a block_actions payload with an approval button")
    operator = rt.operators.by_slack_user(click.user_id)
    if operator is None:
        log(logger, logging.WARNING, "slack request refused: unknown user", slack_user=click.user_id[:32])
        return jsonify({"response_type": "ephemeral", "text": "You are not an operator of this responder."}), 403
    return _decide(rt, click, operator.name)


def _signed(secret: str, rt: Runtime, body: bytes) -> bool:
    timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        return False
    verifier = SignatureVerifier(secret, clock=_Clock(rt))  # type: ignore[arg-type]
    return verifier.is_valid(body, timestamp, request.headers.get("X-Slack-Signature"))


def _first_time(rt: Runtime, signature: str, body: bytes) -> bool:
    """Record the request's digest; False when any replica recorded it before (a replay)."""
    digest = hashlib.sha256(signature.encode() + b"\n" + body).hexdigest()
    now: datetime = rt.clock()
    try:
        with write_transaction(rt.ledger) as conn:
            conn.execute(delete(slack_requests).where(slack_requests.c.received_at < now - REPLAY_WINDOW))
            inserted = conn.execute(
                insert_ignoring_conflicts(conn, slack_requests)
                .values(digest=digest, received_at=now)
                .returning(slack_requests.c.digest)
            ).first()
    except IntegrityError:
        return False
    return inserted is not None


def _parse(raw: str) -> Click | None:
    try:
        payload = json.loads(raw)
        if payload.get("type") != "block_actions":
            return None
        action = payload["actions"][0]
        step_text, _, round_text = str(action["value"]).partition(":")
        decision = Decision(action["action_id"])
        reason = ""
        for block in (payload.get("state") or {}).get("values", {}).values():
            value = (block.get(messages.REASON) or {}).get("value")
            reason = str(value or "").strip()[:2000] or reason
        blocks = (payload.get("message") or {}).get("blocks") or []
        return Click(str(payload["user"]["id"]), int(step_text), int(round_text or 0), decision, reason,
                     payload.get("response_url"), [b for b in blocks if isinstance(b, dict)])
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return None


LINES = {
    "approved": "Approved by {who}: the step runs now.",
    "first_approval": "First approval by {who}; a second, different operator must approve.",
    "restarted": "The state changed since the first approval: {who}'s approval starts a new round.",
    "rejected": "Rejected by {who}: the step will not run.",
    "already_decided": "{who} already decided on this step; nothing changed.",
    "not_waiting": "This step is no longer awaiting approval; nothing changed.",
    "not_found": "This step does not exist.",
    "evidence_unavailable": "What the step would do cannot be read now: not approved. Try again.",
}


def _decide(rt: Runtime, click: Click, operator: str) -> tuple[Response, int]:
    outcome = rt.operations.decide(click.step_id, operator, click.decision, click.reason, "slack")
    if outcome == "reason_required":
        return jsonify({"response_type": "ephemeral", "text": "A rejection needs a reason: fill it in first."}), 200
    result = outcome if isinstance(outcome, str) else outcome.result
    who = ", ".join(outcome.approvers) if not isinstance(outcome, str) and result == "approved" else operator
    line = LINES[result].format(who=who)
    still_open = result in ("first_approval", "restarted", "already_decided", "evidence_unavailable")
    if click.response_url:
        rt.services.notifier.respond(click.response_url, line, messages.decided(click.blocks, line, still_open))
    return jsonify({"result": result, "text": line}), 200
