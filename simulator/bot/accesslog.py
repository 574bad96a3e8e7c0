"""Append the bot's access log: one JSON line per /api/* request or websocket connect (sources.accesslog)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from simulator.timeutil import Clock, rfc3339


class AccessLogWriter:
    """Thread-safe appender; the file is reopened per line so rotation by others is harmless."""

    def __init__(self, path: Path, clock: Clock) -> None:
        self._path = path
        self._clock = clock
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    @property
    def path(self) -> Path:
        return self._path

    def write(self, channel: str, method: str, path: str, status: int, reason: str,
              error_code: int | None = None, token: str | None = None, user_agent: str = "") -> None:
        """Append one line; `token` is logged only on rejected requests (401/403)."""
        line: dict[str, object] = {
            "ts": rfc3339(self._clock()), "channel": channel, "method": method, "path": path,
            "status": status, "reason": reason, "error_code": error_code, "user_agent": user_agent[:200],
        }
        if token and status in (401, 403) and error_code is None:
            line["token"] = token
        data = json.dumps(line, separators=(",", ":")) + "\n"
        with self._lock, open(self._path, "a", encoding="utf-8") as handle:
            handle.write(data)
