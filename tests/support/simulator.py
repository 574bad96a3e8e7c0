"""Start the simulator as a real subprocess for tests: `start_simulator` and `write_config`.

Other services' tests add their own sections (``exporters``, ``responder``) as keyword overrides; they end
up in the same config file, and `RunningSimulator.env` carries the secrets to pass on to those services.
"""

from __future__ import annotations

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

from simulator.secrets import generate_local_secrets
from stack.render import write_yaml
from stack.services import child_env
from tests.support.ports import free_port, wait_for_port

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 30.0
STOP_SECONDS = 10.0
CONTROL_TIMEOUT = 30.0


def write_config(path: Path, sections: Mapping[str, Any]) -> Path:
    """Write one YAML config file holding `sections` (e.g. bot_db, broker, ..., exporters); return its path."""
    return write_yaml(path, sections)


def merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge `overrides` into a copy of `base` (mappings merge, anything else replaces)."""
    merged = dict(base)
    for key, value in overrides.items():
        current = merged.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            merged[key] = merge(current, value)
        else:
            merged[key] = value
    return merged


def simulator_sections(tmp_path: Path, db_url: str) -> dict[str, Any]:
    """Every section the simulator needs, on free loopback ports, with the access log under `tmp_path`."""
    ports = {name: free_port() for name in ("broker", "bot", "supabase", "control")}
    host = "127.0.0.1"
    return {
        "bot_db": {"url": db_url, "stale_after_seconds": 300},
        "broker": {"base_url": f"http://{host}:{ports['broker']}", "connect_timeout_seconds": 1.0,
                   "read_timeout_seconds": 2.0},
        "bot": {"base_url": f"http://{host}:{ports['bot']}", "access_log": str(tmp_path / "bot-access.log"),
                "restart_url": f"http://{host}:{ports['bot']}/admin/restart",
                "reconcile_url": f"http://{host}:{ports['bot']}/admin/reconcile"},
        "supabase": {"url": f"http://{host}:{ports['supabase']}", "expected_audience": "authenticated"},
        "simulator": {"host": host, "broker_port": ports["broker"], "bot_port": ports["bot"],
                      "supabase_port": ports["supabase"], "control_port": ports["control"],
                      "traffic": {"api_requests_per_second": 5, "websocket_connects_per_second": 2}},
    }


@dataclass
class RunningSimulator:
    config_path: Path
    env: dict[str, str]
    db_url: str
    access_log: Path
    broker_url: str
    bot_url: str
    supabase_url: str
    control_url: str
    sections: dict[str, Any]
    process: subprocess.Popen[bytes]
    stopped: bool = False

    def inject(self, kind: str, **options: Any) -> dict[str, Any]:
        """Inject fault `kind` (options as keyword arguments, ``_`` or ``-`` in names); return the answer."""
        path = "/faults/reset" if kind == "reset" else f"/faults/{kind}"
        response = requests.post(self.control_url + path, json=options, timeout=CONTROL_TIMEOUT)
        if response.status_code != 200:
            raise RuntimeError(f"inject {kind} failed: HTTP {response.status_code} {response.text[:300]}")
        body: dict[str, Any] = response.json()
        return body

    def reset(self) -> dict[str, Any]:
        return self.inject("reset")

    def set_broker_latency(self, ms: float) -> None:
        self.settings(broker_latency_ms=ms)

    def settings(self, **values: float) -> dict[str, Any]:
        """Change run-time settings (broker_latency_ms, api_requests_per_second, websocket_connects_per_second)."""
        response = requests.post(self.control_url + "/settings", json=values, timeout=CONTROL_TIMEOUT)
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def stop(self) -> int:
        """Stop the simulator now (SIGTERM, bounded wait, then kill); return its exit status."""
        self.stopped = True
        stop_process(self.process)
        return int(self.process.returncode)

    def faults(self) -> dict[str, Any]:
        response = requests.get(self.control_url + "/faults", timeout=CONTROL_TIMEOUT)
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body


def simulator_env(secrets: Mapping[str, str]) -> dict[str, str]:
    """The child's environment: ours without URL overrides that would redirect it, plus the secrets."""
    return child_env(secrets)


def _stderr_tail(path: Path, limit: int = 4000) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")[-limit:]
    except OSError:
        return "(no stderr)"


def _wait_ready(process: subprocess.Popen[bytes], ports: list[int], stderr: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for port in ports:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"simulator exited with {process.returncode} during start:\n{_stderr_tail(stderr)}")
            try:
                wait_for_port(port, timeout=min(0.5, max(0.05, deadline - time.monotonic())))
                break
            except TimeoutError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"simulator did not open port {port} in {timeout} s:\n"
                                       f"{_stderr_tail(stderr)}") from None


def stop_process(process: subprocess.Popen[bytes], timeout: float = STOP_SECONDS) -> None:
    """Terminate, wait (bounded), then kill."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout)


@contextmanager
def start_simulator(tmp_path: Path, db_url: str, *, startup_timeout: float = STARTUP_SECONDS,
                    **config_overrides: Any) -> Iterator[RunningSimulator]:
    """Run ``python -m simulator --config ...`` in a subprocess until the block ends.

    `config_overrides` are sections deep-merged into the generated config, e.g.
    ``bot_db={"stale_after_seconds": 5}`` or ``exporters={"listen": "127.0.0.1:1234"}``.
    """
    sections = merge(simulator_sections(tmp_path, db_url), config_overrides)
    config_path = write_config(tmp_path / "simulator.yml", sections)
    secrets = generate_local_secrets()
    sim = sections["simulator"]
    stderr_path = tmp_path / "simulator.stderr"
    with open(stderr_path, "wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "simulator", "--config", str(config_path), "serve"],
            cwd=REPO_ROOT, env=simulator_env(secrets), stdout=subprocess.DEVNULL, stderr=stderr,
        )
    try:
        ports = [sim["broker_port"], sim["bot_port"], sim["supabase_port"], sim["control_port"]]
        _wait_ready(process, ports, stderr_path, startup_timeout)
        host = sim["host"]
        running = RunningSimulator(
            config_path=config_path, env=dict(secrets), db_url=db_url, access_log=Path(sections["bot"]["access_log"]),
            broker_url=f"http://{host}:{sim['broker_port']}", bot_url=f"http://{host}:{sim['bot_port']}",
            supabase_url=f"http://{host}:{sim['supabase_port']}", control_url=f"http://{host}:{sim['control_port']}",
            sections=sections, process=process,
        )
        yield running
        if process.poll() is not None and not running.stopped:
            raise RuntimeError(f"simulator died during the test (exit {process.returncode}):\n"
                               f"{_stderr_tail(stderr_path)}")
    finally:
        stop_process(process)


@contextmanager
def simulator_on_backend(request: Any, tmp_path: Path, backend: str | None = None,
                         **config_overrides: Any) -> Iterator[RunningSimulator]:
    """A simulator on a fresh bot database of `backend` (default: the one named by ``request.param``),
    "sqlite" or "postgres"; the PostgreSQL leg skips or fails through the ``postgres_available`` fixture."""
    if (backend or request.param) == "sqlite":
        with start_simulator(tmp_path, f"sqlite:///{tmp_path / 'bot.sqlite3'}", **config_overrides) as sim:
            yield sim
        return
    from tests.support import databases

    request.getfixturevalue("postgres_available")
    with databases.temporary_database() as url, start_simulator(tmp_path, url, **config_overrides) as sim:
        yield sim
