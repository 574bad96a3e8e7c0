"""Start the project's services (and peers) as real processes for a measurement; stop them afterwards."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parents[1]


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
