"""A slow source must not take /metrics down: the scrape answers within its budget without it."""

from __future__ import annotations

import threading
import time

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric

from exporters.collector import ExporterCollector
from tests.exporters.test_collector_isolation import Working

HANG_SECONDS = 5.0


class Hanging:
    """A source that blocks until released (or HANG_SECONDS), counting how often it is started."""

    name = "hanging"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started = 0
        self._lock = threading.Lock()

    def collect(self) -> list[Metric]:
        with self._lock:
            self.started += 1
        self.release.wait(HANG_SECONDS)
        family = GaugeMetricFamily("tradingbot_hanging_example", "example")
        family.add_metric([], 1.0)
        return [family]


def scrape(registry: CollectorRegistry) -> tuple[dict[str, float], float]:
    started = time.monotonic()
    samples = {
        f"{s.name}{sorted(s.labels.items())}": s.value for family in registry.collect() for s in family.samples
    }
    return samples, time.monotonic() - started


def test_a_hanging_source_is_reported_down_within_the_budget_and_never_run_twice_at_once() -> None:
    hanging = Hanging()
    collector = ExporterCollector([hanging, Working()], budget_seconds=0.3)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    try:
        for _ in range(3):
            samples, seconds = scrape(registry)
            assert seconds < 1.0
            assert samples["tradingbot_collector_up[('collector', 'hanging')]"] == 0
            assert samples["tradingbot_collector_up[('collector', 'working')]"] == 1
            assert samples["tradingbot_example[('profile', 'p-1')]"] == 3
            assert "tradingbot_hanging_example[]" not in samples
        assert hanging.started == 1  # the late run is waited for, not started again
        hanging.release.set()
        time.sleep(0.1)
        samples, _ = scrape(registry)
        assert samples["tradingbot_collector_up[('collector', 'hanging')]"] == 1
        assert samples["tradingbot_hanging_example[]"] == 1
        assert hanging.started == 2
    finally:
        hanging.release.set()
        collector.close()


class Closable(Working):
    def __init__(self) -> None:
        self.closed = 0

    def close(self) -> None:
        self.closed += 1


def test_closing_the_exporter_closes_every_source_that_has_threads_of_its_own() -> None:
    closable = Closable()
    collector = ExporterCollector([closable, Working()])
    collector.close()
    assert closable.closed == 1
