"""Append the bot's access log, one line per /api/* request or websocket connect, in the configured format.

`bot.access_log_format` decides the shape, the same setting the exporters read it with: JSON lines (today's
keys by default, or the keys and nested paths of its field mapping), or an nginx/Apache ``combined``,
gunicorn or uvicorn line. A custom ``regex`` format cannot be written (the simulator would not know the
shape). Without ``bot.access_log`` nothing is written.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any

from common.bot_config import AccessLogFormat
from common.config import ConfigError
from simulator.timeutil import Clock, rfc3339

COMBINED_PRESETS = ("nginx-combined", "apache-combined", "gunicorn")


@dataclass(frozen=True)
class AccessRecord:
    """What the bot knows about one answered request."""

    channel: str
    method: str
    path: str
    status: int
    reason: str
    error_code: int | None = None
    token: str | None = None
    user_agent: str = ""
    user: str | None = None
    remote_addr: str = ""
    remote_port: int = 0


class AccessLogWriter:
    """Thread-safe appender; the file is reopened per line so rotation by others is harmless."""

    def __init__(self, path: Path | None, clock: Clock, line_format: AccessLogFormat | None = None) -> None:
        self._path = path
        self._clock = clock
        self._format = line_format or AccessLogFormat()
        if self._format.format == "regex":
            raise ConfigError("bot.access_log_format: the simulator writes json or a preset, not a custom regex")
        self._lock = threading.Lock()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)

    @property
    def path(self) -> Path | None:
        return self._path

    def write(self, record: AccessRecord) -> None:
        """Append one line; the token is logged only on rejected requests (401/403, JSON only)."""
        if self._path is None:
            return
        data = self.render(record) + "\n"
        with self._lock, open(self._path, "a", encoding="utf-8") as handle:
            handle.write(data)

    def render(self, record: AccessRecord) -> str:
        name = self._format.format
        if name in COMBINED_PRESETS:
            return self._combined(record)
        if name == "uvicorn":
            return _uvicorn(record)
        return self._json(record)

    def _json(self, record: AccessRecord) -> str:
        values: dict[str, Any] = {
            "ts": rfc3339(self._clock()), "channel": record.channel, "method": record.method, "path": record.path,
            "request": f"{record.method} {record.path} HTTP/1.1", "status": record.status, "reason": record.reason,
            "error_code": record.error_code, "user_agent": record.user_agent[:200], "user": record.user,
            "remote_addr": record.remote_addr, "upgrade": "websocket" if record.channel == "websocket" else "",
        }
        if record.token and record.status in (401, 403) and record.error_code is None:
            values["token"] = record.token
        line: dict[str, Any] = {}
        for name, key in self._format.fields.model_dump().items():
            if key is not None and name in values:
                _put(line, key, values.get(name))
        return json.dumps(line, separators=(",", ":"))

    def _combined(self, record: AccessRecord) -> str:
        when = self._clock().strftime("%d/%b/%Y:%H:%M:%S %z")
        agent = record.user_agent[:200].replace("\\", "\\\\").replace('"', '\\"')
        return (f'{record.remote_addr or "-"} - {record.user or "-"} [{when}] "{record.method} {record.path} '
                f'HTTP/1.1" {record.status} {len(record.reason)} "-" "{agent}"')


def _uvicorn(record: AccessRecord) -> str:
    client = f"{record.remote_addr}:{record.remote_port}"
    if record.channel == "websocket":
        answer = "[accepted]" if record.status < 400 else str(record.status)
        return f'INFO:     {client} - "WebSocket {record.path}" {answer}'
    try:
        phrase = HTTPStatus(record.status).phrase
    except ValueError:
        phrase = ""
    return f'INFO:     {client} - "{record.method} {record.path} HTTP/1.1" {record.status} {phrase}'.rstrip()


def _put(document: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    for part in parents:
        document = document.setdefault(part, {})
    document[last] = value
