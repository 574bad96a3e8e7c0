"""`python -m exporters` as a person runs it: the real process, its exposition, its start-up errors."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import yaml

from common.db import make_engine
from sources.botdb import metadata
from tests.support.ports import free_port, wait_for_port
from tests.support.simulator import RunningSimulator, write_config

REPO = Path(__file__).resolve().parents[2]


def exporter_config(sim: RunningSimulator, tmp_path: Path, listen: str) -> Path:
    sections = {**sim.sections, "exporters": {"listen": listen, "probe_timeout_seconds": 2.0}}
    return write_config(tmp_path / "exporters.yml", sections)


def run_exporters(config: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "exporters", "--config", str(config), *args],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_exposition_passes_promtool_check_metrics(sim: RunningSimulator, tmp_path: Path) -> None:
    sim.inject("ghost", profile="p-1", symbol="TSLA", qty=3)
    sim.inject("stale-orders", profile="p-2", count=2)
    done = run_exporters(exporter_config(sim, tmp_path, "127.0.0.1:1"), sim.env, "--once")
    assert done.returncode == 0, done.stderr
    for name in (
        "tradingbot_stale_orders",
        "tradingbot_ghost_position",
        "tradingbot_auth_failures_total",
        "tradingbot_requests_total",
        "tradingbot_probe_success",
        "tradingbot_collector_up",
        "tradingbot_collector_duration_seconds",
        "tradingbot_broker_up",
    ):
        assert f"\n{name}{{" in done.stdout, name
    lint = subprocess.run(
        ["promtool", "check", "metrics"], input=done.stdout, capture_output=True, text=True, timeout=30, check=False
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_served_metrics_change_as_faults_are_injected(sim: RunningSimulator, tmp_path: Path) -> None:
    port = free_port()
    config = exporter_config(sim, tmp_path, f"127.0.0.1:{port}")
    process = subprocess.Popen(
        [sys.executable, "-m", "exporters", "--config", str(config)],
        cwd=REPO,
        env={**os.environ, **sim.env},
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_port(port, timeout=20)
        url = f"http://127.0.0.1:{port}/metrics"
        assert "tradingbot_ghost_position{" not in requests.get(url, timeout=10).text
        applied = sim.inject("ghost", profile="p-1")  # the bot closes p-1's open position, the broker keeps it
        text = requests.get(url, timeout=10).text
        labels = f'account="{applied["account"]}",profile="p-1",symbol="{applied["symbol"]}"'
        expected = f"tradingbot_ghost_position{{{labels}}} 1.0"
        assert expected in text, "\n".join(line for line in text.splitlines() if "ghost" in line or "broker_" in line)
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
        assert process.stderr is not None
        process.stderr.close()


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda s: s.pop("broker"), "broker: required key is missing"),
        (lambda s: s.update(bot_db={"url": "postgresql://nobody@127.0.0.1:1/none"}), "bot_db.url: cannot read"),
        (lambda s: s["exporters"].update(listen="everywhere"), "exporters.listen"),
        (lambda s: s.pop("exporters"), "exporters: section is missing"),
    ],
)
def test_bad_configuration_stops_start_up_with_one_line(
    sim: RunningSimulator, tmp_path: Path, mutate: object, message: str
) -> None:
    sections = yaml.safe_load(exporter_config(sim, tmp_path, "127.0.0.1:1").read_text())
    mutate(sections)  # type: ignore[operator]
    done = run_exporters(write_config(tmp_path / "bad.yml", sections), sim.env)
    assert done.returncode == 2
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--listen", "foo"), "exporters: --listen: expected host:port, got 'foo'"),
        (("--log-level", "bogus"), "exporters: --log-level: unknown level 'bogus'"),
    ],
)
def test_bad_command_line_values_stop_start_up_with_one_line(
    sim: RunningSimulator, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    done = run_exporters(exporter_config(sim, tmp_path, "127.0.0.1:1"), sim.env, *args, "--once")
    assert done.returncode == 2
    assert done.stderr.strip().startswith(message) and len(done.stderr.strip().splitlines()) == 1, done.stderr


@pytest.mark.parametrize(("missing", "key"), [("broker_accounts", "accounts"), ("orders", "orders"),
                                              ("positions", "positions")])
def test_a_bot_database_missing_a_table_stops_start_up(
    sim: RunningSimulator, tmp_path: Path, missing: str, key: str
) -> None:
    url = f"sqlite:///{tmp_path / 'partial.sqlite3'}"
    engine = make_engine(url)
    metadata.create_all(engine, tables=[table for name, table in metadata.tables.items() if name != missing])
    engine.dispose()
    sections = yaml.safe_load(exporter_config(sim, tmp_path, "127.0.0.1:1").read_text())
    sections["bot_db"] = {"url": url}
    done = run_exporters(write_config(tmp_path / "partial.yml", sections), sim.env, "--once")
    assert done.returncode == 2
    assert f"bot_db.mapping.{key}.table: no table or view {missing!r} in the bot's database" in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_malformed_yaml_and_missing_secret_are_named(sim: RunningSimulator, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("bot_db: {url: [\n")
    done = run_exporters(broken, sim.env)
    assert done.returncode == 2 and "malformed YAML at line" in done.stderr
    env = {k: v for k, v in sim.env.items() if k != "PROBE_USER_PASSWORD"}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "exporters", "--config", str(exporter_config(sim, tmp_path, "127.0.0.1:1"))],
        cwd=REPO,
        env={k: v for k, v in os.environ.items() if k != "PROBE_USER_PASSWORD"} | env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2 and "$PROBE_USER_PASSWORD" in done.stderr
    assert time.monotonic() - started < 30


def test_secret_holders_never_show_their_values_in_repr() -> None:
    from datetime import UTC, datetime

    from common.broker_secrets import BrokerSecrets
    from exporters.app import Secrets
    from exporters.probes import ProbeCredentials
    from sources.supabase import IssuedToken

    secrets = Secrets(BrokerSecrets("broker-secret", {"k": "key-secret"}), ProbeCredentials("e@x", "pw-1"), "anon-1")
    token = IssuedToken("eyJ.token", datetime(2030, 1, 1, tzinfo=UTC))
    shown = repr(secrets) + repr(token) + repr(secrets.probe)
    for value in ("broker-secret", "key-secret", "e@x", "pw-1", "anon-1", "eyJ.token"):
        assert value not in shown
