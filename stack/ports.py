"""Loopback ports for the processes the stack, the benchmarks and the tests start."""

from __future__ import annotations

import socket
import time
from collections import deque

HOST = "127.0.0.1"

# The kernel may hand the same ephemeral port to two bind(0) calls in a row once the first socket is
# closed; a stack that picks ten ports before starting anything must not get one twice.
_handed_out: deque[int] = deque(maxlen=1024)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now and that this process has not handed out recently."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((HOST, 0))
            port = int(sock.getsockname()[1])
        if port not in _handed_out:
            _handed_out.append(port)
            return port
    raise RuntimeError("no fresh loopback port after 100 tries")


def port_open(port: int, host: str = HOST) -> bool:
    """Whether something accepts connections on `port`."""
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def wait_for_port(port: int, timeout: float = 15.0, host: str = HOST) -> None:
    """Block until something accepts connections on `port`; raise TimeoutError after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not port_open(port, host):
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing listens on {host}:{port} after {timeout} s")
        time.sleep(0.05)
