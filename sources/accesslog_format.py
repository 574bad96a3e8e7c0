"""Access-log lines of any configured format -> `AccessEvent` (the format is `bot.access_log_format`).

Formats: ``json`` (one object per line, each field found by a key or dotted path, `JsonFields`), ``regex``
(a Python regex with named groups, `common.bot_config.LINE_FIELDS`), and presets for the lines real bots
have: ``nginx-combined``/``apache-combined`` and ``gunicorn`` (its default ``access_log_format`` has the
same shape) and ``uvicorn`` (``INFO:     127.0.0.1:52786 - "GET /api/status HTTP/1.1" 401``, also its
``"WebSocket /ws" 403`` / ``[accepted]`` lines). Every line becomes the same event: the channel (an explicit
``channel`` field, else websocket by the ``upgrade`` field, uvicorn's ``WebSocket`` method or the path rule,
else api), the status, whether a 403 is the broker's insufficient-funds refusal, and the client that sent it
(by `client_identity`: the user, the subject of the token it presented, or its address).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from common.bot_config import AccessLogFormat, check_line_regex
from sources.broker import parse_timestamp
from sources.tokens import decode_claims

CHANNELS = ("api", "websocket")
OTHER = "other"  # a line outside `api_path_prefixes` (when set) and not websocket: not counted
AUTH_FAILURE_STATUSES = (401, 403)

_QUOTED = r'"(?:[^"\\]|\\.)*"'
COMBINED = (
    r'^(?P<remote_addr>\S+) \S+ (?P<user>\S+) \[(?P<ts>[^\]]+)\] "(?P<request>(?:[^"\\]|\\.)*)" '
    rf'(?P<status>\d{{3}}) \S+(?: {_QUOTED} "(?P<user_agent>(?:[^"\\]|\\.)*)")?'
)
UVICORN = (
    r"^(?:[A-Z]+:\s+)?(?P<remote_addr>\('[^']*', \d+\)|\S*?)(?::\d+)? - "
    r'"(?P<request>[^"]*)" (?P<status>\d{3}|\[accepted\])'
)
COMBINED_TIME = "%d/%b/%Y:%H:%M:%S %z"
# preset -> (regex, strptime format of its `ts`)
PRESETS: dict[str, tuple[str, str | None]] = {
    "nginx-combined": (COMBINED, COMBINED_TIME),
    "apache-combined": (COMBINED, COMBINED_TIME),
    "gunicorn": (COMBINED, COMBINED_TIME),
    "uvicorn": (UVICORN, None),
}
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_TUPLE_ADDR = re.compile(r"^\('([^']*)', \d+\)$")


class MalformedLine(ValueError):
    """An access-log line the configured format cannot read (the message names what is wrong)."""


@dataclass(frozen=True)
class AccessEvent:
    """One request or websocket connection attempt the bot answered."""

    ts: datetime | None
    channel: str  # api, websocket, or OTHER
    path: str
    status: int
    reason: str = ""
    error_code: int | None = None
    token: str | None = None
    user_agent: str = ""
    method: str = ""
    client: str | None = None  # who sent it (user, token subject or address), None when the line does not say
    insufficient_funds: bool = False  # a 403 that is the broker's refusal, passed through by the bot

    @property
    def is_auth_failure(self) -> bool:
        return self.status in AUTH_FAILURE_STATUSES and not self.insufficient_funds


class LineFormat:
    """Parse lines of one configured format; `parse` raises MalformedLine naming the problem."""

    def __init__(self, config: AccessLogFormat | None = None) -> None:
        self.config = config or AccessLogFormat()
        self._regex: re.Pattern[str] | None = None
        self._time_format = self.config.timestamp_format
        if self.config.format == "regex":
            self._regex = check_line_regex(str(self.config.regex))
        elif self.config.format != "json":
            pattern, time_format = PRESETS[self.config.format]
            self._regex = re.compile(pattern)
            self._time_format = self._time_format or time_format
        self._websocket = re.compile(self.config.websocket.path_regex) if self.config.websocket.path_regex else None
        mapped = self.config.fields.model_dump().items()
        self._json_paths = tuple((name, tuple(key.split("."))) for name, key in mapped if key is not None)

    @property
    def identifies_clients(self) -> bool:
        """Whether lines of this format can name their client at all (else no client counts are exported)."""
        available = set(self._regex.groupindex) if self._regex is not None else {name for name, _ in self._json_paths}
        if "token" in available:
            available.add("token_subject")
        return bool(available & set(self.config.client_identity))

    def parse(self, line: str) -> AccessEvent:
        raw = self._regex_fields(line) if self._regex is not None else self._json_fields(line)
        return self._event(raw)

    def _json_fields(self, line: str) -> dict[str, Any]:
        try:
            document = json.loads(line)
        except (ValueError, RecursionError):
            raise MalformedLine("not JSON") from None
        if not isinstance(document, dict):
            raise MalformedLine("not a JSON object")
        fields = {name: _lookup(document, path) for name, path in self._json_paths}
        if self.config.fields.channel is not None and fields.get("channel") not in CHANNELS:
            raise MalformedLine(f"unknown channel {fields.get('channel')!r}")
        return fields

    def _regex_fields(self, line: str) -> dict[str, Any]:
        assert self._regex is not None
        match = self._regex.match(_ANSI.sub("", line.rstrip("\r\n")))
        if match is None:
            raise MalformedLine(f"does not match the {self.config.format} format")
        fields: dict[str, Any] = match.groupdict()
        if fields.get("channel") is not None and fields["channel"] not in CHANNELS:
            raise MalformedLine(f"unknown channel {fields['channel']!r}")
        return fields

    def _event(self, raw: Mapping[str, Any]) -> AccessEvent:
        status = _status(raw.get("status"))
        method, path = _method_and_path(raw)
        token = _text(raw.get("token")) or None
        error_code = _integer(raw.get("error_code"))
        reason = _text(raw.get("reason"))
        return AccessEvent(
            ts=self._timestamp(raw.get("ts")),
            channel=raw.get("channel") or self._channel(method, path, _text(raw.get("upgrade"))),
            path=path,
            status=status,
            reason=reason,
            error_code=error_code,
            token=token,
            user_agent=_text(raw.get("user_agent"))[:200],
            method=method,
            client=self._client(raw, token),
            insufficient_funds=status == 403 and self._insufficient_funds(error_code, reason, path),
        )

    def _channel(self, method: str, path: str, upgrade: str) -> str:
        rule = self.config.websocket
        websocket = (
            method.lower() == "websocket"
            or upgrade.lower() == "websocket"
            or any(path.startswith(prefix) for prefix in rule.path_prefixes)
            or (self._websocket is not None and self._websocket.search(path) is not None)
        )
        if websocket:
            return "websocket"
        prefixes = self.config.api_path_prefixes
        return "api" if not prefixes or any(path.startswith(prefix) for prefix in prefixes) else OTHER

    def _insufficient_funds(self, error_code: int | None, reason: str, path: str) -> bool:
        rule = self.config.insufficient_funds
        return (
            (error_code is not None and error_code in rule.error_codes)
            or (bool(reason) and reason in rule.reasons)
            or any(path.startswith(prefix) for prefix in rule.paths)
        )

    def _client(self, raw: Mapping[str, Any], token: str | None) -> str | None:
        """``user:<id>`` (the user, or the subject of the token presented: the same user id) or ``addr:<ip>``."""
        for source in self.config.client_identity:
            if source == "token_subject":
                claims = decode_claims(token) if token else None
                value = claims.subject if claims else None
            elif source == "remote_addr":
                value = _address(_text(raw.get("remote_addr")))
            else:
                value = _text(raw.get("user"))
            if value and value != "-":
                return f"{'addr' if source == 'remote_addr' else 'user'}:{value[:200]}"
        return None

    def _timestamp(self, value: Any) -> datetime | None:
        if value is None or value == "":
            return None
        try:
            if isinstance(value, int | float) and not isinstance(value, bool):
                return datetime.fromtimestamp(value / 1000 if value > 1e11 else value, UTC)
            if self._time_format:
                parsed = datetime.strptime(str(value), self._time_format)  # no zone in the format: UTC
                return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
            return parse_timestamp(value)
        except (ValueError, OverflowError, OSError):
            return None  # a line with an unreadable time is still a request


def _lookup(document: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = document.get(path[0])
    for part in path[1:]:
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _text(value: Any) -> str:
    return "" if value is None or isinstance(value, dict | list) else str(value)


def _status(value: Any) -> int:
    if value == "[accepted]":  # uvicorn's accepted websocket handshake
        return 101
    if isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 599:
        return value
    if isinstance(value, str) and re.fullmatch(r"[1-5]\d\d", value):
        return int(value)
    raise MalformedLine("status is not an integer" if value is not None else "no status")


def _integer(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _method_and_path(raw: Mapping[str, Any]) -> tuple[str, str]:
    """The method and the path without its query string (which may carry a token)."""
    method, path = _text(raw.get("method")), _text(raw.get("path"))
    if not path and raw.get("request"):
        parts = _text(raw.get("request")).split()
        if len(parts) >= 2:
            method, path = method or parts[0], parts[1]
    return method, path.split("?", 1)[0]


def _address(value: str) -> str:
    """A client address without uvicorn's tuple form (``('10.0.0.5', 5123)``)."""
    match = _TUPLE_ADDR.match(value)
    return match.group(1) if match else value
