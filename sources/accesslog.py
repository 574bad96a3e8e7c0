"""The bot's access log: one JSON object per line, one line per API request or websocket connect.

Line format (extra keys are ignored)::

    {"ts": "2026-11-24T23:23:28.426Z", "channel": "api", "method": "GET", "path": "/api/status",
     "status": 401, "reason": "token_expired", "error_code": null, "user_agent": "...",
     "token": "<bearer token, optional>"}

``channel`` is ``api`` or ``websocket``. A 401/403 is an authentication failure unless it carries the
broker's insufficient-funds code (403 ``40310000``): that is a trading outcome the bot passes through.
``token`` is present only on rejected requests when the bot logs them for diagnosis; this project
decodes its claims and never stores it. The exporter's probes send `probe_user_agent(tag)`, with a
random tag drawn once per process; only lines carrying exactly that User-Agent are left out of the
counts, so a client that copies the public product name is still counted.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sources.broker import INSUFFICIENT_FUNDS_CODE, parse_timestamp

CHANNELS = ("api", "websocket")
PROBE_PRODUCT = "tradingbot-incident-probe/1.0"
AUTH_FAILURE_STATUSES = (401, 403)


@dataclass(frozen=True)
class AccessEvent:
    ts: datetime | None
    channel: str
    path: str
    status: int
    reason: str
    error_code: int | None
    token: str | None
    user_agent: str = ""

    @property
    def is_auth_failure(self) -> bool:
        if self.status not in AUTH_FAILURE_STATUSES:
            return False
        return not (self.error_code == INSUFFICIENT_FUNDS_CODE or self.reason == "insufficient_funds")


def probe_user_agent(tag: str) -> str:
    """The probes' User-Agent: the public product name plus a random `tag` only this process knows."""
    return f"{PROBE_PRODUCT} (+{tag})"


class MalformedLine(ValueError):
    """An access-log line that is not a JSON object with a known channel and an integer status."""


def parse_line(line: str) -> AccessEvent:
    """Parse one access-log line; raise MalformedLine naming what is wrong."""
    try:
        raw = json.loads(line)
    except (ValueError, RecursionError):
        raise MalformedLine("not JSON") from None
    if not isinstance(raw, dict):
        raise MalformedLine("not a JSON object")
    channel, status = raw.get("channel"), raw.get("status")
    if channel not in CHANNELS:
        raise MalformedLine(f"unknown channel {channel!r}")
    if not isinstance(status, int) or isinstance(status, bool):
        raise MalformedLine("status is not an integer")
    code = raw.get("error_code")
    token = raw.get("token")
    try:
        ts = parse_timestamp(raw.get("ts"))
    except ValueError:
        ts = None
    return AccessEvent(
        ts=ts,
        channel=channel,
        path=str(raw.get("path", "")),
        status=status,
        reason=str(raw.get("reason") or ""),
        error_code=code if isinstance(code, int) and not isinstance(code, bool) else None,
        token=token if isinstance(token, str) and token else None,
        user_agent=str(raw.get("user_agent") or ""),
    )


@dataclass
class TailChunk:
    events: list[AccessEvent]
    malformed: int


class AccessLogTail:
    """Read the lines appended to the access log since the last call, surviving rotation and truncation.

    The first read starts at the end of the file (history before the exporter started is not
    re-counted); a missing file reads as empty. Rotation is seen as a new inode; truncation in place
    (copytruncate) is seen once the file is shorter than what was already read. At most `max_bytes`
    are read per call so that a scrape stays bounded; the rest is read by the next call. A line that
    grows past `max_bytes` without a newline is dropped (up to its newline) and counted as malformed.
    """

    def __init__(self, path: Path, max_bytes: int = 16 * 1024 * 1024) -> None:
        self._path = path
        self._max_bytes = max_bytes
        self._inode: int | None = None
        self._offset = 0
        self._partial = b""
        self._discarding = False  # inside a line too long to keep: drop everything up to its newline

    def read_new(self) -> TailChunk:
        try:
            stat = os.stat(self._path)
        except FileNotFoundError:
            return TailChunk([], 0)
        if self._inode is None:
            self._offset = stat.st_size
        elif stat.st_ino != self._inode or stat.st_size < self._offset:
            self._offset, self._partial, self._discarding = 0, b"", False  # rotated or truncated: from the top
        self._inode = stat.st_ino
        with open(self._path, "rb") as handle:
            handle.seek(self._offset)
            data = handle.read(self._max_bytes)
        self._offset += len(data)
        lines, dropped = self._complete_lines(data)
        chunk = _parse_lines(lines)
        return TailChunk(chunk.events, chunk.malformed + dropped)

    def _complete_lines(self, data: bytes) -> tuple[list[bytes], int]:
        """The complete lines in what was read; an incomplete last line waits for its newline unless it
        is longer than `max_bytes`, which drops it (returned count: 1)."""
        lines = (self._partial + data).split(b"\n")
        partial = lines.pop()
        if self._discarding:
            if lines:
                lines.pop(0)  # the end of the overlong line
                self._discarding = False
            else:
                partial = b""
        if len(partial) > self._max_bytes:
            self._partial, self._discarding = b"", True
            return lines, 1
        self._partial = partial
        return lines, 0


def _parse_lines(lines: list[bytes]) -> TailChunk:
    events: list[AccessEvent] = []
    malformed = 0
    for raw in lines:
        if not raw.strip():
            continue
        try:
            events.append(parse_line(raw.decode("utf-8", errors="replace")))
        except MalformedLine:
            malformed += 1
    return TailChunk(events, malformed)


def read_recent(path: Path, max_bytes: int = 4 * 1024 * 1024) -> TailChunk:
    """Parse the last `max_bytes` of the access log (for evidence capture)."""
    try:
        with open(path, "rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            start = max(0, size - max_bytes)
            handle.seek(start)
            data = handle.read()
    except FileNotFoundError:
        return TailChunk([], 0)
    lines = data.split(b"\n")
    if start > 0 and lines:
        lines = lines[1:]  # the first line is cut
    return _parse_lines(lines)
