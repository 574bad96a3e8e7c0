"""exporters.exposition writes exactly what prometheus_client's generate_latest writes, faster, and
serves it as python -m exporters did (text format, gzip when asked)."""

from __future__ import annotations

import math

import pytest
import requests
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from exporters.exposition import render, start_metrics_server
from tests.support.ports import free_port


class Families:
    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> list[Metric]:
        return self._families


def _registry(*families: Metric) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(Families(list(families)))  # type: ignore[arg-type]
    return registry


def _gauges() -> list[Metric]:
    stale = GaugeMetricFamily("tradingbot_stale_orders", "Orders \\ past the SLA\nper profile", labels=["profile"])
    for n, value in enumerate([0.0, 5.0, 1e21, 123456789.0, -3.5, 0.1, math.inf, -math.inf, math.nan, 2**53]):
        stale.add_metric([f"p-{n}"], value)
    stale.add_metric(['odd "quoted" \\ back\nline ünïcode'], 1.0)
    pair = GaugeMetricFamily("tradingbot_broker_position_quantity", "qty", labels=["symbol", "account"])
    pair.add_metric(["AAPL", "acct-1"], 10.0)
    empty = GaugeMetricFamily("tradingbot_quarantined_orders", "nothing yet", labels=["profile"])
    plain = GaugeMetricFamily("tradingbot_up", "no labels", value=1)
    errors = CounterMetricFamily("tradingbot_broker_errors", "errors", labels=["kind"])
    errors.add_metric(["timeout"], 3.0)
    return [stale, pair, empty, plain, errors]


def test_plain_gauges_and_counters_render_exactly_like_generate_latest() -> None:
    registry = _registry(*_gauges())
    assert render(registry) == generate_latest(registry)


@pytest.mark.parametrize("kind", ["histogram", "created", "bad_label_name", "timestamp"])
def test_anything_else_falls_back_to_generate_latest(kind: str) -> None:
    registry = CollectorRegistry(auto_describe=False)
    if kind == "histogram":
        Histogram("step_seconds", "h", registry=registry).observe(0.3)
    elif kind == "created":
        Counter("deliveries", "c", registry=registry).inc()  # carries a _created sample
    else:
        family = GaugeMetricFamily("g", "g", labels=["bad-name" if kind == "bad_label_name" else "ok"])
        family.add_metric(["x"], 1.0, timestamp=12.5 if kind == "timestamp" else None)
        registry.register(Families([*_gauges(), family]))  # type: ignore[arg-type]
    assert render(registry) == generate_latest(registry)


def test_the_server_answers_text_format_and_gzip_when_asked() -> None:
    registry = _registry(*_gauges())
    port = free_port()
    server, thread = start_metrics_server("127.0.0.1", port, registry)
    try:
        prometheus = {"Accept": "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
                      "Accept-Encoding": "gzip"}
        answer = requests.get(f"http://127.0.0.1:{port}/metrics", headers=prometheus, timeout=5)
        assert answer.status_code == 200
        assert answer.headers["Content-Type"] == CONTENT_TYPE_LATEST
        assert answer.headers["Content-Encoding"] == "gzip"
        assert answer.content == generate_latest(registry)  # requests decompresses
        raw = requests.get(f"http://127.0.0.1:{port}/metrics", headers={"Accept-Encoding": "identity"}, timeout=5)
        assert "Content-Encoding" not in raw.headers
        assert raw.content == generate_latest(registry)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
