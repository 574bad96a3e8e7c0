"""The bot's access log: tailed at each scrape, read back for evidence, sampled for a readiness check.

The format is configured (`bot.access_log_format`, parsed by `sources.accesslog_format.LineFormat`); the
default is one JSON object per line, one line per API request or websocket connect (extra keys are ignored)::

    {"ts": "2026-11-24T23:23:28.426Z", "channel": "api", "method": "GET", "path": "/api/status",
     "status": 401, "reason": "token_expired", "error_code": null, "user_agent": "...",
     "user": "<user id, on accepted requests>", "remote_addr": "10.0.0.7",
     "token": "<bearer token, optional>"}

``channel`` is ``api`` or ``websocket``. A 401/403 is an authentication failure unless it is the broker's
insufficient-funds refusal (403 with code ``40310000``): a trading outcome the bot passes through.
``token`` is present only on rejected requests when the bot logs them for diagnosis; this project
decodes its claims and never stores it. The exporter's probes send `probe_user_agent(tag)`, with a
random tag drawn once per process; only lines carrying exactly that User-Agent are left out of the
counts, so a client that copies the public product name is still counted.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sources.accesslog_format import (
    AUTH_FAILURE_STATUSES,
    CHANNELS,
    OTHER,
    AccessEvent,
    LineFormat,
    MalformedLine,
)

__all__ = [
    "AUTH_FAILURE_STATUSES",
    "CHANNELS",
    "AccessEvent",
    "AccessLogTail",
    "LineFormat",
    "LineSample",
    "MalformedLine",
    "TailChunk",
    "parse_line",
    "probe_user_agent",
    "read_recent",
    "sample_file",
    "sample_lines",
]

PROBE_PRODUCT = "tradingbot-incident-probe/1.0"
DEFAULT_FORMAT = LineFormat()


def probe_user_agent(tag: str) -> str:
    """The probes' User-Agent: the public product name plus a random `tag` only this process knows."""
    return f"{PROBE_PRODUCT} (+{tag})"


def parse_line(line: str, line_format: LineFormat = DEFAULT_FORMAT) -> AccessEvent:
    """Parse one access-log line; raise MalformedLine naming what is wrong."""
    return line_format.parse(line)


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

    def __init__(
        self, path: Path, max_bytes: int = 16 * 1024 * 1024, *, line_format: LineFormat = DEFAULT_FORMAT
    ) -> None:
        self._path = path
        self._format = line_format
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
        chunk = _parse_lines(lines, self._format)
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


def _parse_lines(lines: Iterable[bytes], line_format: LineFormat) -> TailChunk:
    events: list[AccessEvent] = []
    malformed = 0
    for raw in lines:
        if not raw.strip():
            continue
        try:
            events.append(line_format.parse(raw.decode("utf-8", errors="replace")))
        except MalformedLine:
            malformed += 1
    return TailChunk(events, malformed)


def read_recent(
    path: Path, max_bytes: int = 4 * 1024 * 1024, *, line_format: LineFormat = DEFAULT_FORMAT
) -> TailChunk:
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
    return _parse_lines(lines, line_format)


@dataclass
class LineSample:
    """How some lines parse and classify with a format: what a readiness check reports about the access log.

    ``classes`` counts parsed lines by (channel, class), class being ``auth_failure`` (a 401/403 counted as
    one), ``insufficient_funds`` (a 403 excluded as the broker's refusal) or ``other``; channel ``other``
    is a line outside ``api_path_prefixes``, not counted at all."""

    lines: int = 0
    parsed: int = 0
    malformed: int = 0
    problems: Counter[str] = field(default_factory=Counter)
    first_malformed: list[tuple[int, str]] = field(default_factory=list)
    classes: Counter[tuple[str, str]] = field(default_factory=Counter)
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    with_client: int = 0
    clients: int = 0


def sample_lines(lines: Iterable[str], line_format: LineFormat = DEFAULT_FORMAT, examples: int = 5) -> LineSample:
    """Parse `lines` with `line_format` and say how many parse and how they classify."""
    sample = LineSample()
    clients: set[str] = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        sample.lines += 1
        try:
            event = line_format.parse(line)
        except MalformedLine as exc:
            sample.malformed += 1
            sample.problems[str(exc)] += 1
            if len(sample.first_malformed) < examples:
                sample.first_malformed.append((number, str(exc)))
            continue
        sample.parsed += 1
        sample.classes[(event.channel, _kind(event))] += 1
        sample.statuses[(event.channel, event.status)] += 1
        if event.client is not None and event.channel != OTHER:
            sample.with_client += 1
            clients.add(event.client)
    sample.clients = len(clients)
    return sample


def _kind(event: AccessEvent) -> str:
    if event.is_auth_failure:
        return "auth_failure"
    return "insufficient_funds" if event.insufficient_funds else "other"


def sample_file(path: Path, line_format: LineFormat = DEFAULT_FORMAT, last: int = 1000) -> LineSample:
    """`sample_lines` over the last `last` lines of the file (read from at most its last 4 MiB)."""
    try:
        with open(path, "rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(max(0, size - 4 * 1024 * 1024))
            data = handle.read()
    except FileNotFoundError:
        return LineSample()
    lines = data.decode("utf-8", errors="replace").split("\n")
    if size > len(data):
        lines = lines[1:]  # the first line is cut
    return sample_lines(lines[-last - 1 :], line_format)
