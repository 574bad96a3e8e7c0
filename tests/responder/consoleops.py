"""Operators for console and Slack tests: a file of hashed secrets with Slack user ids, and the secrets."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from werkzeug.security import generate_password_hash

from stack.render import write_yaml

PASSWORDS = {"alice": "alice-password-1", "bob": "bob-password-2"}
SLACK_USERS = {"alice": "UALICE01", "bob": "UBOB0002"}
SESSION_SECRET = "test-session-secret-0123456789abcdef0123"
SIGNING_SECRET = "test-slack-signing-secret-0123456789"
CONSOLE_ENV = {"RESPONDER_SESSION_SECRET": SESSION_SECRET, "SLACK_SIGNING_SECRET": SIGNING_SECRET}


def write_operators(path: Path) -> Path:
    operators = [
        {"name": name, "password_hash": generate_password_hash(password, method="pbkdf2:sha256:1000"),
         "slack_user_id": SLACK_USERS[name]}
        for name, password in PASSWORDS.items()
    ]
    return write_yaml(path, {"operators": operators})


def slack_click(step_value: str, user: str, action: str, reason: str = "", response_url: str = "",
                blocks: list[dict[str, Any]] | None = None) -> bytes:
    """A block_actions payload as Slack posts it (form-encoded ``payload=<json>``)."""
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower()},
        "actions": [{"action_id": action, "value": step_value, "type": "button"}],
        "state": {"values": {"reason": {"reason": {"type": "plain_text_input", "value": reason}}}},
        "response_url": response_url,
        "message": {"blocks": blocks or []},
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


def slack_headers(body: bytes, secret: str = SIGNING_SECRET, timestamp: int | None = None) -> dict[str, str]:
    """Sign like Slack: v0=HMAC-SHA256(secret, "v0:{timestamp}:{body}")."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}",
            "Content-Type": "application/x-www-form-urlencoded"}
