"""The ``tradingbot_responder_*`` metrics.

Two sources, one exposition:
- Event counters and the step-duration histogram are incremented by the process that saw the event.
  Under gunicorn every worker is a process, so they live in prometheus_client's multiprocess mode
  (``PROMETHEUS_MULTIPROC_DIR``, one directory per responder instance, set before prometheus_client is
  imported) and each scrape sums every worker's files; without that directory (tests, one process)
  they live in the app's own registry.
- State is derived from the ledger at scrape time (`LedgerCollector`): step backlog by state, budget
  remaining, ledger up, mode. It is the same whichever worker answers and holds across replicas.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from common.config import ResponderConfig
from responder.ledger import budget, killswitch, queries
from responder.ledger.schema import DEACTIVATION_BUDGET
from responder.ledger.store import ledger_writable
from responder.states import StepState

DELIVERY_OUTCOMES = (
    "accepted",
    "unauthorized",
    "bad_request",
    "too_large",
    "unsupported_media_type",
    "ledger_unavailable",
)
# the terminal step states, each a label value of tradingbot_responder_steps_total
STEP_RESULTS = tuple(str(state) for state in StepState if state.terminal)
MODES = ("live", "dry-run", "off")


class ResponderMetrics:
    """The event metrics; `registry` is None in multiprocess mode (values live in the directory's files)."""

    def __init__(self, registry: CollectorRegistry | None, actions: Iterable[str] = ()) -> None:
        self.notifications = Counter(
            "tradingbot_responder_notifications",
            "Webhook deliveries by outcome",
            ["outcome"],
            registry=registry,
        )
        self.alerts = Counter(
            "tradingbot_responder_alerts",
            "Alert occurrences in accepted deliveries (new=true the first time)",
            ["status", "new"],
            registry=registry,
        )
        self.steps = Counter(
            "tradingbot_responder_steps", "Playbook steps finished", ["action", "result"], registry=registry
        )
        self.step_duration = Histogram(
            "tradingbot_responder_step_duration_seconds",
            "Time an action took to execute",
            ["action"],
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=registry,
        )
        self.truncated = Counter(
            "tradingbot_responder_truncated_alerts",
            "Alerts cut by max_alerts: recovered from Alertmanager's API or not",
            ["outcome"],
            registry=registry,
        )
        self.retries = Counter(
            "tradingbot_responder_step_retries",
            "Transient failures of a step (no answer from its target), each retried later or, past the retry"
            " time, failing the step",
            ["action", "kind"],
            registry=registry,
        )
        self.sweeps = Counter(
            "tradingbot_responder_sweeps",
            "Reconciliations of open incidents with Alertmanager: swept, unavailable (no Alertmanager answered), idle",
            ["outcome"],
            registry=registry,
        )
        self.swept = Counter(
            "tradingbot_responder_swept_alerts",
            "Firing occurrences resolved by the sweeper: gone from Alertmanager without a RESOLVED delivery",
            registry=registry,
        )
        self.budget_exhausted = Counter(
            "tradingbot_responder_budget_exhausted",
            "Steps parked for approval because the blast-radius budget was used up",
            ["budget"],
            registry=registry,
        )
        for outcome in DELIVERY_OUTCOMES:
            self.notifications.labels(outcome)
        for action in actions:  # from 0, so that increase() sees the first failure of each action
            for result in STEP_RESULTS:
                self.steps.labels(action, result)
        for outcome in ("recovered", "unrecovered"):
            self.truncated.labels(outcome)
        self.budget_exhausted.labels(DEACTIVATION_BUDGET)
        for outcome in ("swept", "unavailable", "idle"):
            self.sweeps.labels(outcome)


class LedgerCollector(Collector):
    """State derived from the ledger at scrape time::

    tradingbot_responder_ledger_up 1.0
    tradingbot_responder_ledger_backlog{state="awaiting_approval"} 2.0
    tradingbot_responder_budget_remaining{budget="deactivate_profile"} 3.0
    tradingbot_responder_mode{mode="live"} 1.0
    tradingbot_responder_kill_switch_engaged{level="stop-entries"} 1.0
    """

    def __init__(self, engine: Engine, config: ResponderConfig, clock: Callable[[], datetime]) -> None:
        self._engine = engine
        self._config = config
        self._clock = clock

    def collect(self) -> Iterator[Metric]:
        mode = GaugeMetricFamily("tradingbot_responder_mode", "1 for the current mode", labels=["mode"])
        for name in MODES:
            mode.add_metric([name], 1.0 if name == self._config.mode else 0.0)
        yield mode
        up = GaugeMetricFamily("tradingbot_responder_ledger_up", "1 if the ledger could be written at this scrape")
        try:
            if not ledger_writable(self._engine):
                raise SQLAlchemyError("ledger not writable")
            counts = queries.backlog(self._engine)
            left = budget.remaining(
                self._engine,
                DEACTIVATION_BUDGET,
                self._config.budget.max_deactivations,
                self._config.budget.window_seconds,
                self._clock(),
            )
            engaged = {e.level for e in killswitch.in_force(self._engine)}
        except SQLAlchemyError:
            up.add_metric([], 0.0)
            yield up
            return
        up.add_metric([], 1.0)
        yield up
        backlog = GaugeMetricFamily("tradingbot_responder_ledger_backlog", "Steps by state", labels=["state"])
        for state, count in sorted(counts.items()):
            backlog.add_metric([state], float(count))
        yield backlog
        remaining = GaugeMetricFamily(
            "tradingbot_responder_budget_remaining", "Actions left in the blast-radius window", labels=["budget"]
        )
        remaining.add_metric([DEACTIVATION_BUDGET], float(left))
        yield remaining
        switch = GaugeMetricFamily(
            "tradingbot_responder_kill_switch_engaged",
            "1 while a kill switch level is engaged (until every profile it covers is re-armed)",
            labels=["level"],
        )
        for level in killswitch.LEVELS:
            switch.add_metric([level], 1.0 if level in engaged else 0.0)
        yield switch


class Exposition:
    """Render /metrics: event metrics (this process, or every worker in multiprocess mode) + ledger state."""

    def __init__(self, ledger: LedgerCollector, multiprocess_dir: Path | None) -> None:
        self._ledger = ledger
        self._dir = multiprocess_dir
        self.local = CollectorRegistry(auto_describe=True)

    def metrics(self, actions: Iterable[str] = ()) -> ResponderMetrics:
        return ResponderMetrics(None if self._dir else self.local, actions)

    def render(self) -> bytes:
        registry = CollectorRegistry()
        if self._dir:
            MultiProcessCollector(registry, path=str(self._dir))  # type: ignore[no-untyped-call]
        else:
            registry.register(_Forward(self.local))
        registry.register(self._ledger)
        return generate_latest(registry)


class _Forward(Collector):
    def __init__(self, source: CollectorRegistry) -> None:
        self._source = source

    def collect(self) -> Iterator[Metric]:
        yield from self._source.collect()
