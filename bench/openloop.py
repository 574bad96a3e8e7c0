"""An open-loop load generator (fixed arrival rate, like wrk2's -R; Debian ships no wrk2).

Request i is due at ``start + i / rate`` whatever happened to earlier ones; it goes out on an idle
keep-alive connection (a new one when none is idle), and its latency is counted from when it was DUE,
so a slow server cannot hide queueing by slowing the generator down (no coordinated omission).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class OpenLoopResult:
    rate: float
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    connections: int = 0
    late_sends: int = 0  # requests that left more than 10 ms after they were due (generator lag)
    acknowledged: list[int] = field(default_factory=list)  # sequence numbers of the 2xx answers

    @property
    def sent(self) -> int:
        return len(self.latencies_ms) + self.errors


IDLE_SECONDS = 2.0  # a keep-alive connection idle longer than this may be closing (gunicorn: 5 s): not reused


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.used = time.monotonic()

    async def exchange(self, request: bytes) -> int:
        self.writer.write(request)
        await self.writer.drain()
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        if length:
            await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        self.writer.close()


async def _run(url: str, rate: float, seconds: float, body: Callable[[], bytes], headers: dict[str, str],
               max_connections: int) -> OpenLoopResult:
    parts = urlsplit(url)
    host, port, path = parts.hostname or "127.0.0.1", parts.port or 80, parts.path or "/"
    head = f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    result = OpenLoopResult(rate, seconds)
    idle: list[_Connection] = []
    open_count = 0
    slots = asyncio.Semaphore(max_connections)

    async def one(seq: int, due: float, request: bytes) -> None:
        nonlocal open_count
        async with slots:
            conn = idle.pop() if idle else None
            if conn is not None and time.monotonic() - conn.used > IDLE_SECONDS:
                conn.close()
                open_count -= 1
                conn = None
            try:
                if conn is None:
                    reader, writer = await asyncio.open_connection(host, port)
                    conn = _Connection(reader, writer)
                    open_count += 1
                    result.connections = max(result.connections, open_count)
                status = await conn.exchange(request)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                result.errors += 1
                if conn is not None:
                    conn.close()
                    open_count -= 1
                return
            result.latencies_ms.append((time.perf_counter() - due) * 1000)
            result.statuses[status] = result.statuses.get(status, 0) + 1
            if 200 <= status < 300:
                result.acknowledged.append(seq)
            conn.used = time.monotonic()
            idle.append(conn)

    loop_start = time.perf_counter() + 0.05
    total = int(rate * seconds)
    tasks = []
    for i in range(total):
        due = loop_start + i / rate
        payload = body()
        request = (head + f"Content-Length: {len(payload)}\r\n\r\n").encode() + payload
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -0.010:
            result.late_sends += 1
        tasks.append(asyncio.create_task(one(i, due, request)))
    await asyncio.gather(*tasks)
    for conn in idle:
        conn.close()
    return result


def run_open_loop(url: str, rate: float, seconds: float, body: Callable[[], bytes], headers: dict[str, str],
                  max_connections: int = 64) -> OpenLoopResult:
    """POST `body()` to `url` at `rate` per second for `seconds`; latencies are counted from each due time."""
    return asyncio.run(_run(url, rate, seconds, body, headers, max_connections))
