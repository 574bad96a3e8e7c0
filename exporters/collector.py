"""One registered collector that runs the three sources at scrape time and reports on each.

Every source is a small object with a `name` and a `collect()` that returns metric families. The
`ExporterCollector` runs them concurrently, and publishes `tradingbot_collector_up` and
`tradingbot_collector_duration_seconds` once, with a `collector` label per source. A source that
raises loses only its own metrics (reported as up 0); the others and `/metrics` keep working::

    # HELP tradingbot_collector_up 1 if the collector's last scrape succeeded
    # TYPE tradingbot_collector_up gauge
    tradingbot_collector_up{collector="stale_backlog"} 1.0
    tradingbot_collector_up{collector="ghost_positions"} 0.0
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)


class Source(Protocol):
    name: str

    def collect(self) -> list[Metric]:
        """Read the source and return fresh metric families; raise when it cannot be read."""
        ...


class ExporterCollector(Collector):
    def __init__(self, sources: Sequence[Source]) -> None:
        self._sources = list(sources)
        self._pool = ThreadPoolExecutor(max_workers=len(self._sources), thread_name_prefix="source")

    def describe(self) -> Iterable[Metric]:
        return []  # registration must not trigger a scrape

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily(
            "tradingbot_collector_up", "1 if the collector's last scrape succeeded", labels=["collector"]
        )
        duration = GaugeMetricFamily(
            "tradingbot_collector_duration_seconds", "Time the collector's last scrape took", labels=["collector"]
        )
        futures = [(source, self._pool.submit(_timed, source)) for source in self._sources]
        for source, future in futures:
            families, seconds, ok = future.result()
            up.add_metric([source.name], 1.0 if ok else 0.0)
            duration.add_metric([source.name], seconds)
            yield from families
        yield up
        yield duration

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _timed(source: Source) -> tuple[list[Metric], float, bool]:
    started = time.perf_counter()
    try:
        families = source.collect()
        ok = True
    except Exception:
        log.exception("collector %s failed", source.name)
        families, ok = [], False
    return families, time.perf_counter() - started, ok
