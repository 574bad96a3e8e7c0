"""A simulator of its own: configured client traffic, seeding an empty database, clean shutdown."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests

from sources.accesslog import PROBE_PRODUCT
from tests.simulator.helpers import AccessLog, wait_for_lines
from tests.support.simulator import start_simulator


def test_configured_traffic_seed_and_clean_shutdown(tmp_path: Path, db_url: str) -> None:
    traffic = {"api_requests_per_second": 20, "websocket_connects_per_second": 10}
    with start_simulator(tmp_path, db_url, simulator={"traffic": traffic, "seed": {"profiles": 4, "accounts": 2}}
                         ) as sim:
        assert requests.get(f"{sim.control_url}/settings", timeout=5).json() == {"broker_latency_ms": 0.0, **traffic}
        log = AccessLog(sim.access_log)
        lines = wait_for_lines(log, lambda lines: {line["channel"] for line in lines} == {"api", "websocket"}, 10)
        assert all(line["status"] == 200 and "token" not in line for line in lines)
        assert all(line["user_agent"] and not line["user_agent"].startswith(PROBE_PRODUCT) for line in lines)
        health = requests.get(f"{sim.bot_url}/health", timeout=5).json()
        assert health["stale_backlog"] == 0
        started = time.monotonic()
        assert sim.stop() == 0 and time.monotonic() - started < 8
    assert "Traceback" not in (tmp_path / "simulator.stderr").read_text(encoding="utf-8")


def test_start_failure_surfaces_the_simulators_stderr(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match=r"simulator\.bot_port"), start_simulator(
        tmp_path, f"sqlite:///{tmp_path / 'bot.sqlite3'}", simulator={"bot_port": 70000}
    ):
        pass
