"""Notifications: the runbook's communication template rendered with Jinja2, posted to a Slack-compatible webhook.

Every printed value passes through Slack escaping (``&``, ``<``, ``>``), so a hostile label cannot
mention ``<!channel>`` or forge a link. Without a webhook URL nothing is sent and the caller records the
notification as ``not_configured``; a failed post never raises.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import jinja2
import requests

TEMPLATES = Path(__file__).parent / "templates"
SEVERITIES = {"sev1": "SEV-1", "sev2": "SEV-2", "sev3": "SEV-3"}


def slack_escape(value: Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def severity_name(label: str | None) -> str:
    return SEVERITIES.get((label or "").lower(), (label or "unknown").upper())


def make_templates(
    directory: Path = TEMPLATES, finalize: Callable[[Any], Any] | None = slack_escape
) -> jinja2.Environment:
    """The template environment: strict about undefined names, Slack-escaping every printed value by default."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(directory)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # noqa: S701 - plain text for Slack, escaped by `finalize`
        finalize=finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["utc"] = lambda value: value.strftime("%Y-%m-%d %H:%M UTC")
    env.filters["utc_seconds"] = lambda value: value.strftime("%Y-%m-%d %H:%M:%S")
    return env


@dataclass(frozen=True)
class Sent:
    outcome: Literal["sent", "not_configured", "failed"]
    detail: str = ""


class Notifier:
    """Render templates and post them; the webhook URL is a secret and never appears in errors or logs."""

    def __init__(
        self,
        webhook_url: str | None,
        session: requests.Session,
        timeout: float,
        next_update_minutes: float,
        templates: jinja2.Environment | None = None,
    ) -> None:
        self._url = webhook_url
        self._session = session
        self._timeout = timeout
        self.update_interval = timedelta(minutes=next_update_minutes)
        self._templates = templates or make_templates()

    @property
    def configured(self) -> bool:
        return bool(self._url)

    def render(self, template: str, now: datetime, **context: Any) -> str:
        return self._templates.get_template(template).render(now=now, **context)

    def send(self, text: str, blocks: list[dict[str, Any]] | None = None) -> Sent:
        """Post `text` (and Block Kit `blocks`, e.g. approval buttons) to the incoming webhook."""
        if not self._url:
            return Sent("not_configured", "no Slack webhook URL is configured")
        return self._post(self._url, {"text": text, **({"blocks": blocks} if blocks else {})})

    def respond(self, response_url: str, text: str, blocks: list[dict[str, Any]]) -> Sent:
        """Replace the message an interaction came from (Slack's ``response_url``)."""
        return self._post(response_url, {"replace_original": True, "text": text, "blocks": blocks})

    def _post(self, url: str, body: dict[str, Any]) -> Sent:
        try:
            response = self._session.post(url, json=body, timeout=self._timeout)
        except requests.RequestException as exc:
            return Sent("failed", f"webhook unreachable: {type(exc).__name__}")
        if not 200 <= response.status_code < 300:
            return Sent("failed", f"webhook answered HTTP {response.status_code}")
        return Sent("sent")
