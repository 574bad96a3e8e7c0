"""Every broker key id has its own secret: broker.account_secret_envs, resolved the same way by the
exporters and the simulator's broker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from common.config import ConfigError, load_config
from exporters.app import Secrets
from tests.exporters.conftest import Exporter, make_exporter
from tests.support.simulator import RunningSimulator, start_simulator

OWN_SECRET_ENV = "TEST_APCA_SECRET_ACCT_2"
OWN_SECRET = "acct-2-has-a-secret-of-its-own"


@pytest.fixture
def sim(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningSimulator]:
    """A simulator whose broker gives acct-2's key id its own secret (the child inherits our environment)."""
    monkeypatch.setenv(OWN_SECRET_ENV, OWN_SECRET)
    broker = {"account_secret_envs": {"sim-key-acct-2": OWN_SECRET_ENV}}
    with start_simulator(tmp_path, db_url, broker=broker) as running:
        yield running


def exporter_with(sim: RunningSimulator, env: dict[str, str]) -> Exporter:
    sim.env.update(env)
    return make_exporter(sim)


def broker_up(exporter: Exporter) -> dict[str, float]:
    return {dict(k)["account"]: v for k, v in exporter.samples("tradingbot_broker_up").items()}


def test_accounts_with_different_secrets_are_all_read(sim: RunningSimulator) -> None:
    exporter = exporter_with(sim, {OWN_SECRET_ENV: OWN_SECRET})
    try:
        assert broker_up(exporter) == {"acct-1": 1.0, "acct-2": 1.0, "acct-3": 1.0}
    finally:
        exporter.close()


def test_a_wrong_secret_fails_that_account_only(sim: RunningSimulator) -> None:
    exporter = exporter_with(sim, {OWN_SECRET_ENV: sim.env["APCA_API_SECRET_KEY"]})  # the default: wrong here
    try:
        scrape = exporter.scrape()
        assert {dict(k)["account"]: v for k, v in scrape.samples("tradingbot_broker_up").items()} == {
            "acct-1": 1.0,
            "acct-2": 0.0,
            "acct-3": 1.0,
        }
        assert scrape.value("tradingbot_broker_errors_total", kind="unauthorized") == 1
    finally:
        exporter.close()


def test_a_missing_per_account_secret_stops_start_up_naming_it(sim: RunningSimulator) -> None:
    config = load_config(sim.config_path, env={})
    env = {k: v for k, v in sim.env.items() if k != OWN_SECRET_ENV}
    with pytest.raises(ConfigError, match=rf"\${OWN_SECRET_ENV} \(or \${OWN_SECRET_ENV}_FILE\) is not set"):
        Secrets.from_env(config, env)
