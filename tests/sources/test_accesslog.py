from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from sources.accesslog import AccessLogTail, MalformedLine, parse_line, read_recent


def line(channel: str = "api", status: int = 200, **extra: object) -> str:
    return json.dumps({"ts": "2026-11-24T23:23:28.426Z", "channel": channel, "status": status, **extra}) + "\n"


def append(path: Path, *lines: str) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("".join(lines))


def test_insufficient_funds_403_is_not_an_auth_failure() -> None:
    assert parse_line(line(status=401)).is_auth_failure
    assert parse_line(line(status=403, reason="bad_jwt")).is_auth_failure
    assert not parse_line(line(status=403, error_code=40310000)).is_auth_failure
    assert not parse_line(line(status=403, reason="insufficient_funds")).is_auth_failure
    assert not parse_line(line(status=422)).is_auth_failure


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"channel": "ftp", "status": 200}', "unknown channel 'ftp'"),
        ('{"channel": "api", "status": "unauthorized"}', "status is not an integer"),
        ('{"channel": "api", "status": 4010}', "status is not an integer"),
        ('{"channel": "api"}', "no status"),
        ('{"channel": "api", "status": true}', "status is not an integer"),
    ],
)
def test_malformed_lines_name_the_problem(raw: str, problem: str) -> None:
    with pytest.raises(MalformedLine, match=problem):
        parse_line(raw)


def test_tail_starts_at_the_end_and_reads_only_new_complete_lines(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    append(log, line(status=401), line(status=401))
    tail = AccessLogTail(log)
    assert tail.read_new().events == []  # history before start is not re-counted
    append(log, line(status=401), '{"channel": "websocket", "sta')
    first = tail.read_new()
    assert [e.status for e in first.events] == [401]
    append(log, 'tus": 403}\n', "garbage\n")
    second = tail.read_new()
    assert [(e.channel, e.status) for e in second.events] == [("websocket", 403)]
    assert second.malformed == 1


def test_tail_follows_rotation_and_truncation(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    append(log, line())
    tail = AccessLogTail(log)
    tail.read_new()
    os.rename(log, tmp_path / "access.log.1")
    append(log, line(status=401, reason="token_expired"))
    assert [e.status for e in tail.read_new().events] == [401]
    log.write_text(line(status=403))  # truncated in place (copytruncate), now shorter than what was read
    assert [e.status for e in tail.read_new().events] == [403]
    log.unlink()
    assert tail.read_new().events == []


def test_tail_reads_at_most_max_bytes_per_call(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.touch()
    tail = AccessLogTail(log, max_bytes=200)
    tail.read_new()
    append(log, *[line(status=401) for _ in range(10)])
    counts = [len(tail.read_new().events) for _ in range(12)]
    assert sum(counts) == 10 and max(counts) < 10


def test_read_recent_skips_the_cut_first_line(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    append(log, *[line(status=401, token=f"t{n}") for n in range(50)])
    chunk = read_recent(log, max_bytes=300)
    assert chunk.malformed == 0 and chunk.events
    assert chunk.events[-1].token == "t49"


def test_the_probe_user_agent_carries_its_tag_and_is_logged_verbatim() -> None:
    from sources.accesslog import PROBE_PRODUCT, probe_user_agent

    user_agent = probe_user_agent("5eb63bbbe01eeed0")
    assert user_agent == f"{PROBE_PRODUCT} (+5eb63bbbe01eeed0)"
    assert parse_line(line(status=401, user_agent=user_agent)).user_agent == user_agent


def test_a_timestamp_out_of_range_or_a_deeply_nested_line_is_not_fatal(tmp_path: Path) -> None:
    assert parse_line(line(status=401, ts="9999-12-31T23:59:59-01:00")).ts is None
    log = tmp_path / "access.log"
    log.touch()
    tail = AccessLogTail(log)
    tail.read_new()
    append(log, line(status=401), line(status=403, ts="9999-12-31T23:59:59-01:00"))
    append(log, "[" * 100_000 + "\n", line(status=403))
    chunk = tail.read_new()
    assert [e.status for e in chunk.events] == [401, 403, 403]
    assert chunk.malformed == 1


def test_a_line_longer_than_max_bytes_is_dropped_and_counted_once(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.touch()
    tail = AccessLogTail(log, max_bytes=100)
    tail.read_new()
    append(log, line(status=401), "x" * 450)
    chunks = [tail.read_new() for _ in range(6)]
    assert len(tail._partial) <= 100  # the partial line does not grow past max_bytes
    append(log, "x" * 20 + "\n", line(status=403))
    chunks += [tail.read_new() for _ in range(2)]
    assert [e.status for c in chunks for e in c.events] == [401, 403]
    assert sum(c.malformed for c in chunks) == 1  # counted when dropped, not again at its newline
