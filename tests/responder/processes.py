"""Run ``python -m responder`` as a real subprocess (gunicorn, several workers) for tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from common.config import ENV_OVERRIDES, split_listen
from tests.responder.harness import OPERATOR_TOKEN, REPO, SECRETS, WEBHOOK_TOKEN
from tests.support.simulator import write_config

START_SECONDS = 20.0


@dataclass
class ResponderProcess:
    process: subprocess.Popen[bytes]
    url: str
    stderr: Path

    def post(self, body: Any, token: str = WEBHOOK_TOKEN, **kwargs: Any) -> requests.Response:
        return requests.post(f"{self.url}/alerts", json=body, headers={"Authorization": f"Bearer {token}"},
                             timeout=10, **kwargs)

    def operator(self, method: str, path: str, body: Any = None) -> requests.Response:
        headers = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
        return requests.request(method, f"{self.url}{path}", json=body, headers=headers, timeout=10)

    def log(self) -> str:
        return self.stderr.read_text(encoding="utf-8", errors="replace")[-6000:]

    def kill9(self) -> None:
        """SIGKILL the whole process group (master and workers), as a crashing machine would."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ENV_OVERRIDES and not k.startswith("PROMETHEUS_")}
    return {**env, **SECRETS, "PYTHONUNBUFFERED": "1", **(extra or {})}


def run_cli(args: list[str], env: Mapping[str, str] | None = None, timeout: float = 30) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "responder", *args], cwd=REPO, env=child_env(env),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@contextmanager
def responder_process(
    tmp_path: Path, config: Mapping[str, Any], env: Mapping[str, str] | None = None, name: str = "responder"
) -> Iterator[ResponderProcess]:
    path = write_config(tmp_path / f"{name}.yml", config)
    host, port = split_listen(config["responder"]["listen"])
    stderr = tmp_path / f"{name}.stderr"
    with open(stderr, "wb") as sink:
        process = subprocess.Popen([sys.executable, "-m", "responder", "--config", str(path)], cwd=REPO,
                                   env=child_env(env), stdout=sink, stderr=sink, start_new_session=True)
    running = ResponderProcess(process, f"http://{host}:{port}", stderr)
    try:
        wait_ready(running)
        yield running
    finally:
        running.stop()


def wait_ready(running: ResponderProcess, timeout: float = START_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if running.process.poll() is not None:
            raise RuntimeError(f"responder exited with {running.process.returncode}:\n{running.log()}")
        try:
            if requests.get(f"{running.url}/health/ready", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"responder not ready after {timeout} s:\n{running.log()}")


def wait_for(condition: Any, timeout: float = 20.0, what: str = "condition") -> Any:
    """Poll `condition()` until it returns something truthy (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise TimeoutError(f"{what} not reached in {timeout} s")
