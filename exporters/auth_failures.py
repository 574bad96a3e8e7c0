"""Auth failures: 401/403 seen by the bot (access-log tail) and the runbook's controlled probes.

The access log is read incrementally at each scrape; counters start at zero for every channel and code
so that `rate()` works from the first scrape. A 403 that is the broker's insufficient-funds refusal is
a trading outcome, not an auth failure, and is not counted as one. The probes' own requests (marked
by this process's probe User-Agent, random per process) are not counted at all: the unauthenticated
trade probe is a 401 by design. Where the log's format names clients, how many are active and how many
are failing is exported too (`exporters.auth_clients`). Without an access log (`bot.access_log` unset)
none of the access-log series exist, and the rules read the bot's own HTTP counters instead::

    tradingbot_auth_failures_total{channel="api",code="401"} 12.0
    tradingbot_requests_total{channel="api"} 530.0
    tradingbot_auth_failing_clients{channel="api",window="2m"} 1.0
    tradingbot_probe_success{probe="api_status_authenticated"} 1.0
    tradingbot_probe_http_status{probe="api_status_authenticated"} 200.0
    tradingbot_bot_health_degraded{field="services.alpaca"} 0.0
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from exporters.auth_clients import ClientWindows
from exporters.probes import ProbeResult, Probes
from sources.accesslog import AUTH_FAILURE_STATUSES, CHANNELS, AccessLogTail


class AuthFailureCollector:
    name = "auth_failures"

    def __init__(
        self, tail: AccessLogTail | None, probes: Probes, probe_user_agent: str, clients: ClientWindows | None = None
    ) -> None:
        self._tail = tail
        self._clients = clients
        self._probes = probes
        self._probe_user_agent = probe_user_agent
        self._failures = {(channel, str(code)): 0 for channel in CHANNELS for code in AUTH_FAILURE_STATUSES}
        self._requests = dict.fromkeys(CHANNELS, 0)
        self._malformed = 0
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=5, thread_name_prefix="probe")

    def collect(self) -> list[Metric]:
        results = self._run_probes()
        return [*self._count_access_log(), *_probe_families(results)]

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _count_access_log(self) -> list[Metric]:
        if self._tail is None:
            return []
        with self._lock:  # two concurrent scrapes must not count the same lines twice
            chunk = self._tail.read_new()
            self._malformed += chunk.malformed
            for event in chunk.events:
                if event.user_agent == self._probe_user_agent or event.channel not in self._requests:
                    continue
                self._requests[event.channel] += 1
                if event.is_auth_failure:
                    self._failures[(event.channel, str(event.status))] += 1
                if self._clients is not None:
                    self._clients.observe(event.channel, event.client, event.is_auth_failure)
            clients = self._clients.families() if self._clients is not None else []
            failures = CounterMetricFamily(
                "tradingbot_auth_failures",
                "Authentication/authorization rejections seen by the bot (broker insufficient-funds 403 excluded)",
                labels=["channel", "code"],
            )
            for (channel, code), count in sorted(self._failures.items()):
                failures.add_metric([channel, code], float(count))
            requests = CounterMetricFamily(
                "tradingbot_requests", "All requests and connection attempts seen by the bot", labels=["channel"]
            )
            for channel, count in sorted(self._requests.items()):
                requests.add_metric([channel], float(count))
            malformed = CounterMetricFamily(
                "tradingbot_access_log_malformed_lines", "Access-log lines that could not be parsed"
            )
            malformed.add_metric([], float(self._malformed))
        return [failures, requests, malformed, *clients]

    def _run_probes(self) -> list[ProbeResult]:
        """Run the independent probes concurrently, then the authenticated one with the fresh token."""
        first: list[Callable[[], ProbeResult]] = [
            self._probes.health_live,
            self._probes.health_ready,
            self._probes.api_trade_unauthenticated_rejected,
            self._probes.supabase_auth_health,
            self._probes.jwt_issuance,
        ]
        results = list(self._pool.map(_timed_probe, first))
        results.append(_timed_probe(self._probes.api_status_authenticated))
        return results


def _timed_probe(probe: Callable[[], ProbeResult]) -> ProbeResult:
    started = time.perf_counter()
    result = probe()
    return dataclasses.replace(result, seconds=time.perf_counter() - started)


def _probe_families(results: list[ProbeResult]) -> list[Metric]:
    success = GaugeMetricFamily("tradingbot_probe_success", "1/0 per synthetic check of the runbook", labels=["probe"])
    status = GaugeMetricFamily(
        "tradingbot_probe_http_status",
        "HTTP status of the probe's last answer, 0 when nothing answered",
        labels=["probe"],
    )
    seconds = GaugeMetricFamily("tradingbot_probe_duration_seconds", "Time the probe took", labels=["probe"])
    degraded = GaugeMetricFamily(
        "tradingbot_bot_health_degraded",
        "1 while the bot's /health/ready reports the configured field degraded (bot.health.degraded_fields)",
        labels=["field"],
    )
    for result in results:
        success.add_metric([result.probe], 1.0 if result.success else 0.0)
        status.add_metric([result.probe], float(result.http_status))
        seconds.add_metric([result.probe], result.seconds)
        for field in result.fields:
            degraded.add_metric([field.name], 1.0 if field.degraded else 0.0)
    return [success, status, seconds, degraded]
