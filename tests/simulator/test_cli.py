"""`python -m simulator` as a subprocess: help, one-line errors with exit 2, and `inject` end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from simulator.secrets import generate_local_secrets
from tests.simulator.helpers import broker
from tests.support.simulator import REPO_ROOT, RunningSimulator, simulator_env, simulator_sections, write_config

TIMEOUT = 30


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "simulator", *args], cwd=REPO_ROOT, env=env or simulator_env({}),
                          capture_output=True, text=True, timeout=TIMEOUT, check=False)


def test_help_documents_every_option() -> None:
    top = run_cli("--help")
    assert top.returncode == 0
    for option in ("--config", "--broker-latency-ms", "serve", "inject", "seed"):
        assert option in top.stdout
    inject = run_cli("inject", "--help")
    assert inject.returncode == 0
    for text in ("--control-url", "ghost:", "--cause", "stale-orders:", "--missing-at-broker", "--older-than-24h",
                 "broker-outage:", "--delay-seconds", "auth-failures:", "--scope", "fill-race:", "reset"):
        assert text in inject.stdout


@pytest.mark.parametrize(
    "content, expected",
    [
        (None, "cannot read config file"),
        ("bot_db: [unclosed", "malformed YAML"),
        ("bot_db: {url: 'sqlite://'}\n", "broker: required key is missing"),
    ],
)
def test_bad_config_exits_2_with_one_line(tmp_path: Path, content: str | None, expected: str) -> None:
    path = tmp_path / "bad.yml"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    result = run_cli("--config", str(path), env=simulator_env(generate_local_secrets()))
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and expected in result.stderr


def test_bad_simulator_port_exits_2_naming_the_key(tmp_path: Path) -> None:
    sections = simulator_sections(tmp_path, f"sqlite:///{tmp_path / 'bot.db'}")
    sections["simulator"]["bot_port"] = 70000
    path = write_config(tmp_path / "sim.yml", sections)
    result = run_cli("--config", str(path), env=simulator_env(generate_local_secrets()))
    assert result.returncode == 2 and "simulator.bot_port" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_missing_secret_refuses_to_start(tmp_path: Path) -> None:
    path = write_config(tmp_path / "sim.yml", simulator_sections(tmp_path, f"sqlite:///{tmp_path / 'bot.db'}"))
    secrets = generate_local_secrets()
    del secrets["SUPABASE_JWT_SECRET"]
    result = run_cli("--config", str(path), "serve", env=simulator_env(secrets))
    assert result.returncode == 2
    expected = "simulator: $SUPABASE_JWT_SECRET (or $SUPABASE_JWT_SECRET_FILE) is not set"
    assert result.stderr.strip().splitlines() == [expected]
    assert not (tmp_path / "bot.db").exists()


@pytest.mark.parametrize(
    "args, expected",
    [
        (["ghost", "--colour", "red"], "ghost: unknown option --colour"),
        (["ghost", "--cause"], "ghost: option --cause needs a value"),
        (["stale-orders", "--count", "many"], "stale-orders: --count:"),
        (["meteor"], "unknown fault kind 'meteor'"),
    ],
)
def test_inject_bad_option_exits_2_with_one_line(args: list[str], expected: str) -> None:
    result = run_cli("inject", *args, "--control-url", "http://127.0.0.1:9")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and expected in result.stderr


def test_inject_without_a_server_exits_1(tmp_path: Path) -> None:
    result = run_cli("inject", "bot-degraded", "--control-url", "http://127.0.0.1:9")
    assert result.returncode == 1 and "cannot reach the control API" in result.stderr


def test_inject_end_to_end(sim: RunningSimulator, session: requests.Session) -> None:
    result = run_cli("inject", "ghost", "--profile", "p-2", "--cause", "rejected-exit",
                     "--control-url", sim.control_url)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert (answer["kind"], answer["profile"], answer["exit_order"]["status"]) == ("ghost", "p-2", "rejected")
    client = broker(sim, session, answer["account"])
    assert client.get_order_by_client_id(answer["exit_order"]["client_order_id"]).status == "rejected"
    stale = run_cli("--config", str(sim.config_path), "inject", "stale-orders", "--profile", "p-1", "--profile", "p-3",
                    "--count=4", "--missing-at-broker", "1")
    assert stale.returncode == 0, stale.stderr
    assert json.loads(stale.stdout)["profiles"] == ["p-1", "p-3"]
    assert session.get(f"{sim.bot_url}/health", timeout=5).json()["stale_backlog"] == 4
    reset = run_cli("inject", "reset", "--control-url", sim.control_url)
    assert reset.returncode == 0 and json.loads(reset.stdout)["kind"] == "reset"
    assert session.get(f"{sim.bot_url}/health", timeout=5).json()["stale_backlog"] == 0
    refused = run_cli("inject", "ghost", "--profile", "p-404", "--control-url", sim.control_url)
    assert refused.returncode == 2 and "unknown profile 'p-404'" in refused.stderr
