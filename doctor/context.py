"""What every check is given: the validated configuration, the gateway to the bot's data, the environment
(secrets), one HTTP session with short timeouts, and how much of the access log to read."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import requests

from common.config import Config
from sources.botdata import BotData

HTTP_TIMEOUT_SECONDS = 3.0
MADE_UP_ID = "doctor-no-such-id-0"


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Context:
    config: Config
    bot: BotData
    env: Mapping[str, str]
    http: requests.Session
    log_lines: int = 1000
    timeout: float = HTTP_TIMEOUT_SECONDS
    mapping_fits: bool = False  # set by the schema check: the other database checks need it
    control_problem: str = ""  # the control API's calls could not be set up (a secret not set)


def http_session() -> requests.Session:
    """A session that sends only what a check passes (no ~/.netrc, no proxy settings, no cookies kept)."""
    session = requests.Session()
    session.trust_env = False
    return session
