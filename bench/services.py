"""Start the project's services (and peers) as real processes for a measurement; stop them afterwards."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import yaml

from common.config import ENV_OVERRIDES

REPO = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def port_open(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.2):
            return True
    except OSError:
        return False


def write_yaml(path: Path, document: Mapping[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(_plain(document), sort_keys=False), encoding="utf-8")
    return path


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return str(value) if isinstance(value, Path) else value


def child_env(extra: Mapping[str, str]) -> dict[str, str]:
    """Our environment without URL overrides or Prometheus settings that would redirect a child, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k not in ENV_OVERRIDES and not k.startswith("PROMETHEUS_")}
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def check(self) -> None:
        if self.popen.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.popen.returncode}:\n{self.tail()}")

    def stop(self, timeout: float = 15.0) -> None:
        if self.popen.poll() is not None:
            return
        os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout)


@contextmanager
def process(name: str, argv: Sequence[str], log: Path, env: Mapping[str, str], ready: Any,
            timeout: float = 60.0) -> Iterator[Process]:
    """Run `argv` in its own session until the block ends; `ready()` says when it serves."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as sink:
        popen = subprocess.Popen(list(argv), cwd=REPO, env=dict(env), stdout=sink, stderr=subprocess.STDOUT,
                                 start_new_session=True)
    running = Process(name, popen, log)
    try:
        deadline = time.monotonic() + timeout
        while not ready():
            running.check()
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} not ready after {timeout:.0f} s:\n{running.tail()}")
            time.sleep(0.1)
        yield running
    finally:
        running.stop()


def http_ok(url: str) -> Any:
    def ready() -> bool:
        try:
            return requests.get(url, timeout=1).status_code == 200
        except requests.RequestException:
            return False

    return ready


def python(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]
