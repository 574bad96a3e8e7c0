"""Stalled clients for the ingest benchmark: `count` connections that each sent half a request and went
silent, kept open for as long as the block runs (one the server closes after its read timeout is opened
again at once, as an attacker would)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from urllib.parse import urlsplit

HALF_REQUESTS = (
    b"POST /alerts HTTP/1.1\r\nHost: responder\r\nContent-Type: application/json\r\n",  # headers never end
    b'POST /alerts HTTP/1.1\r\nHost: responder\r\nContent-Length: 5000\r\n\r\n{"receiver": ',  # body never ends
    b"GET /health/li",  # the request line never ends
)


@dataclass
class Stalled:
    count: int
    reopened: int = 0


def _open(host: str, port: int, n: int) -> socket.socket:
    sock = socket.create_connection((host, port), timeout=5)
    sock.sendall(HALF_REQUESTS[n % len(HALF_REQUESTS)])
    sock.setblocking(False)
    return sock


def _closed(sock: socket.socket) -> bool:
    try:
        sock.recv(1, socket.MSG_PEEK)  # an answer (408) or the end of the stream: the stall is over
        return True
    except BlockingIOError:
        return False
    except OSError:
        return True


@contextmanager
def stalled_clients(url: str, count: int, every: float = 0.2) -> Iterator[Stalled]:
    """Keep `count` stalled connections to `url` open while the block runs."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    sockets = [_open(host, port, n) for n in range(count)]
    state, stop = Stalled(count), threading.Event()

    def keep() -> None:
        while not stop.wait(every):
            for n, sock in enumerate(sockets):
                if _closed(sock):
                    with suppress(OSError):
                        sock.close()
                    with suppress(OSError):
                        sockets[n] = _open(host, port, n)
                        state.reopened += 1

    thread = threading.Thread(target=keep, daemon=True, name="stalled-clients")
    thread.start()
    try:
        yield state
    finally:
        stop.set()
        thread.join(5)
        for sock in sockets:
            with suppress(OSError):
                sock.close()
