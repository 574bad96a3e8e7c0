"""Exporters against the running simulator (real HTTP) and a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.samples import Sample
from sqlalchemy import Engine

from common.config import load_config
from common.db import make_engine
from exporters.app import Secrets, build_collector, build_registry, http_session
from exporters.collector import ExporterCollector
from sources.broker import BrokerClient
from tests.support.simulator import RunningSimulator, start_simulator

Wrap = Callable[[Callable[[str], BrokerClient]], Callable[[str], BrokerClient]]


@dataclass
class Exporter:
    sim: RunningSimulator
    registry: CollectorRegistry
    collector: ExporterCollector
    engine: Engine

    def close(self) -> None:
        self.collector.close()
        self.engine.dispose()

    def scrape(self) -> Scrape:
        """Run one scrape and keep every sample."""
        return Scrape([sample for family in self.registry.collect() for sample in family.samples])

    def value(self, name: str, **labels: str) -> float | None:
        return self.scrape().value(name, **labels)

    def samples(self, name: str) -> dict[tuple[tuple[str, str], ...], float]:
        return self.scrape().samples(name)


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


@pytest.fixture
def sim(tmp_path: Path, db_url: str) -> Iterator[RunningSimulator]:
    with start_simulator(tmp_path, db_url, bot_db={"stale_after_seconds": 300}) as running:
        yield running


def make_exporter(sim: RunningSimulator, **exporters: object) -> Exporter:
    config = load_config(sim.config_path, env={})
    config = config.model_copy(update={"exporters": config.exporters or _exporters_section(**exporters)})
    engine = make_engine(sim.db_url)
    collector = build_collector(config, Secrets.from_env(config, sim.env), engine, http_session(40))
    return Exporter(sim, build_registry(collector), collector, engine)


def _exporters_section(**values: object):  # type: ignore[no-untyped-def]
    from common.config import ExportersConfig

    return ExportersConfig.model_validate({"probe_timeout_seconds": 2.0, **values})


@pytest.fixture
def exporter(sim: RunningSimulator) -> Iterator[Exporter]:
    made = make_exporter(sim)
    yield made
    made.close()
