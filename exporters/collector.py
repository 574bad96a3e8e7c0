"""One registered collector that runs the three sources at scrape time and reports on each.

Every source is a small object with a `name` and a `collect()` that returns metric families. The
`ExporterCollector` runs them concurrently, and publishes `tradingbot_collector_up` and
`tradingbot_collector_duration_seconds` once, with a `collector` label per source. A source that
raises, or that has not answered when the scrape's budget (`exporters.scrape_budget_seconds`) runs out,
loses only its own metrics for that scrape (reported as up 0); the others and `/metrics` keep working::

    # HELP tradingbot_collector_up 1 if the collector's last scrape succeeded
    # TYPE tradingbot_collector_up gauge
    tradingbot_collector_up{collector="stale_backlog"} 1.0
    tradingbot_collector_up{collector="ghost_positions"} 0.0

A late source keeps running in the background, and each source runs at most once at a time: a scrape
that finds a source's run still in flight waits (within its own budget) for that run instead of
starting another, so a source that hangs holds one thread, never more.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Protocol

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from common.config import DEFAULT_SCRAPE_BUDGET_SECONDS

log = logging.getLogger(__name__)

Outcome = tuple[list[Metric], float, bool]  # families, seconds, ok


class Source(Protocol):
    name: str

    def collect(self) -> list[Metric]:
        """Read the source and return fresh metric families; raise when it cannot be read."""
        ...


class ExporterCollector(Collector):
    def __init__(
        self,
        sources: Sequence[Source],
        budget_seconds: float = DEFAULT_SCRAPE_BUDGET_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sources = list(sources)
        self._budget = budget_seconds
        self._monotonic = monotonic
        self._pool = ThreadPoolExecutor(max_workers=len(self._sources), thread_name_prefix="source")
        self._runs: dict[str, tuple[float, Future[Outcome]]] = {}  # source name -> (started, run)
        self._lock = threading.Lock()

    def describe(self) -> Iterable[Metric]:
        return []  # registration must not trigger a scrape

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily(
            "tradingbot_collector_up", "1 if the collector's last scrape succeeded", labels=["collector"]
        )
        duration = GaugeMetricFamily(
            "tradingbot_collector_duration_seconds", "Time the collector's last scrape took", labels=["collector"]
        )
        deadline = self._monotonic() + self._budget
        runs = [(source, self._run_of(source)) for source in self._sources]
        for source, (started, run) in runs:
            families, seconds, ok = self._outcome(source, started, run, deadline)
            up.add_metric([source.name], 1.0 if ok else 0.0)
            duration.add_metric([source.name], seconds)
            yield from families
        yield up
        yield duration

    def close(self) -> None:
        """Stop this collector's threads and those of every source that has its own (a `close()`)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        for source in self._sources:
            close = getattr(source, "close", None)
            if callable(close):
                close()

    def _run_of(self, source: Source) -> tuple[float, Future[Outcome]]:
        """The source's run still in flight, or a new one when its last run has finished."""
        with self._lock:
            current = self._runs.get(source.name)
            if current is None or current[1].done():
                current = (self._monotonic(), self._pool.submit(_timed, source))
                self._runs[source.name] = current
            return current

    def _outcome(self, source: Source, started: float, run: Future[Outcome], deadline: float) -> Outcome:
        """The run's result, or no metrics and up 0 when it has not finished by the deadline."""
        try:
            return run.result(timeout=max(0.0, deadline - self._monotonic()))
        except FutureTimeout:
            log.warning("collector %s did not finish within the %.1f s scrape budget", source.name, self._budget)
            return [], self._monotonic() - started, False


def _timed(source: Source) -> Outcome:
    started = time.perf_counter()
    try:
        families = source.collect()
        ok = True
    except Exception:
        log.exception("collector %s failed", source.name)
        families, ok = [], False
    return families, time.perf_counter() - started, ok
