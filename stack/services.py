"""Start, watch and stop the stack's processes; each one logs to its own file."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import requests

from common.config import ENV_OVERRIDES
from stack.ports import port_open


def child_env(extra: Mapping[str, str]) -> dict[str, str]:
    """Our environment without URL overrides or Prometheus client settings that would redirect a child
    process, plus `extra` (its secrets)."""
    env = {k: v for k, v in os.environ.items() if k not in ENV_OVERRIDES and not k.startswith("PROMETHEUS_")}
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


class StackError(Exception):
    """A process of the stack failed to start or died; the message says which and why."""


@dataclass
class Service:
    name: str
    argv: Sequence[str]
    log_path: Path
    ready_port: int | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    ready_path: str | None = None  # also wait for GET http://127.0.0.1:<port><path> to answer 200
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child for its lifetime
        self.process = subprocess.Popen(
            list(self.argv),
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **self.env},
            cwd=self.cwd,
            start_new_session=True,
        )
        log.close()

    def wait_ready(self, timeout: float) -> None:
        """Wait until the ready port accepts connections; raise StackError if the process dies first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            if self.ready_port is None or (port_open(self.ready_port) and self._answers()):
                return
            time.sleep(0.1)
        raise StackError(f"{self.name} did not open port {self.ready_port} within {timeout:.0f} s; see {self.log_path}")

    def _answers(self) -> bool:
        if self.ready_path is None:
            return True
        try:
            url = f"http://127.0.0.1:{self.ready_port}{self.ready_path}"
            return requests.get(url, timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise StackError(f"{self.name} exited with code {self.process.returncode}:\n{self.tail_log()}")

    def tail_log(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, timeout: float = 10.0) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=timeout)

    def kill(self) -> None:
        """SIGKILL the whole process group (crash simulation)."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


@dataclass
class ServiceGroup:
    services: list[Service] = field(default_factory=list)

    def start(self, service: Service, timeout: float = 30.0) -> Service:
        self.services.append(service)
        service.start()
        service.wait_ready(timeout)
        return service

    def check_alive(self) -> None:
        for service in self.services:
            service.check_alive()

    def stop(self) -> None:
        for service in reversed(self.services):
            service.stop()
        self.services.clear()
