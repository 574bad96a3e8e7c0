from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric

from exporters.collector import ExporterCollector


class Working:
    name = "working"

    def collect(self) -> list[Metric]:
        family = GaugeMetricFamily("tradingbot_example", "example", labels=["profile"])
        family.add_metric(["p-1"], 3.0)
        return [family]


class Broken:
    name = "broken"

    def collect(self) -> list[Metric]:
        raise RuntimeError("database went away")


def test_a_failing_collector_loses_only_its_own_metrics() -> None:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ExporterCollector([Broken(), Working()]))
    assert registry.get_sample_value("tradingbot_example", {"profile": "p-1"}) == 3
    assert registry.get_sample_value("tradingbot_collector_up", {"collector": "working"}) == 1
    assert registry.get_sample_value("tradingbot_collector_up", {"collector": "broken"}) == 0
    duration = registry.get_sample_value("tradingbot_collector_duration_seconds", {"collector": "broken"})
    assert duration is not None and duration >= 0
    exposition = generate_latest(registry).decode()
    assert exposition.count("# TYPE tradingbot_collector_up gauge") == 1
