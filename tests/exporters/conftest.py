"""Exporters against the running simulator (real HTTP) and a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.samples import Sample

from common.bot_config import BotConfig
from common.config import load_config
from exporters.app import Secrets, build_collector, build_registry, http_session, probe_session, utc_now
from exporters.collector import ExporterCollector
from sources.botdata import BotData, open_bot_data
from tests.support.simulator import RunningSimulator, simulator_on_backend

TRAFFIC = {"api_requests_per_second": 5, "websocket_connects_per_second": 2}
SETTINGS = {"bot_db": {"stale_after_seconds": 300}, "simulator": {"traffic": TRAFFIC}}


@dataclass
class Exporter:
    sim: RunningSimulator
    registry: CollectorRegistry
    collector: ExporterCollector
    bot: BotData

    def close(self) -> None:
        self.collector.close()
        self.bot.dispose()

    def scrape(self) -> Scrape:
        """Run one scrape and keep every sample."""
        return Scrape([sample for family in self.registry.collect() for sample in family.samples])

    def value(self, name: str, **labels: str) -> float | None:
        return self.scrape().value(name, **labels)

    def samples(self, name: str) -> dict[tuple[tuple[str, str], ...], float]:
        return self.scrape().samples(name)


class ManualClock:
    """A clock the test moves by hand, starting now."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Scrape:
    all: list[Sample]

    def value(self, name: str, **labels: str) -> float | None:
        for sample in self.all:
            if sample.name == name and sample.labels == labels:
                return sample.value
        return None

    def samples(self, name: str) -> dict[tuple[tuple[str, str], ...], float]:
        """Every sample of metric `name`, keyed by its sorted labels."""
        return {tuple(sorted(s.labels.items())): s.value for s in self.all if s.name == name}


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def shared_sim(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSimulator]:
    """One simulator per backend and test module (starting one takes a second or two)."""
    with simulator_on_backend(request, tmp_path_factory.mktemp(f"exporters-{request.param}"), **SETTINGS) as running:
        yield running


@pytest.fixture
def sim(shared_sim: RunningSimulator) -> RunningSimulator:
    """The shared simulator reset to its seed, with client traffic and no broker latency."""
    shared_sim.reset()
    shared_sim.settings(broker_latency_ms=0, **TRAFFIC)
    return shared_sim


def make_exporter(
    sim: RunningSimulator,
    bot_url: str | None = None,
    clock: Callable[[], datetime] = utc_now,
    bot: Mapping[str, Any] | None = None,
    crypto: dict[str, float] | None = None,
    **exporters: object,
) -> Exporter:
    """An exporter on the simulator's config; `bot_url` points its bot probes at another bot, `bot` changes
    other keys of the `bot:` section, `crypto` keys of ``broker.crypto``."""
    config = load_config(sim.config_path, env={})
    config = config.model_copy(update={"exporters": config.exporters or _exporters_section(**exporters)})
    changes = {**(bot or {}), **({"base_url": bot_url} if bot_url is not None else {})}
    if changes:
        bot_section = BotConfig.model_validate({**config.bot.model_dump(exclude_unset=True), **changes})
        config = config.model_copy(update={"bot": bot_section})
    if crypto is not None:
        rules = config.broker.crypto.model_copy(update=crypto)
        config = config.model_copy(update={"broker": config.broker.model_copy(update={"crypto": rules})})
    bot_data = open_bot_data(config.bot_db, clock)
    secrets = Secrets.from_env(config, sim.env)
    collector = build_collector(config, secrets, bot_data, http_session(40), probe_session(8), clock)
    return Exporter(sim, build_registry(collector), collector, bot_data)


def _exporters_section(**values: object):  # type: ignore[no-untyped-def]
    from common.config import ExportersConfig

    return ExportersConfig.model_validate({"probe_timeout_seconds": 2.0, **values})


@pytest.fixture
def exporter(sim: RunningSimulator) -> Iterator[Exporter]:
    made = make_exporter(sim)
    yield made
    made.close()
