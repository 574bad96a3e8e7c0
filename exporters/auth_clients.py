"""Which clients are being rejected: one misbehaving client, or everyone on the channel?

Every access-log request is attributed to its client (user, token subject or address; requests that do not
say form one anonymous client). Per channel and window, the exporter counts the *active* clients (any request
in the window) and the *failing* ones: at least `MIN_FAILURES` auth rejections in the window, making up at
least `MIN_FAILING_SHARE` of that client's requests. A dashboard that refreshes an expired token (one 401,
then accepted) is not failing; a client locked out, or one of several replicas rejecting everyone's tokens
now and then, is::

    tradingbot_auth_failing_clients{channel="websocket",window="2m"} 3.0
    tradingbot_auth_active_clients{channel="websocket",window="2m"} 3.0

Memory is bounded: per channel at most `max_clients` clients are remembered (the least recently seen is
forgotten first), each as counts in `BUCKET_SECONDS` buckets over the longest window.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from prometheus_client.core import GaugeMetricFamily, Metric

WINDOWS = {"2m": 120.0, "10m": 600.0}  # the windows alerts/rules/auth.yml reads
BUCKET_SECONDS = 15.0
MIN_FAILURES = 2
MIN_FAILING_SHARE = 0.2
MAX_CLIENTS = 10_000
ANONYMOUS = ""


@dataclass
class _Client:
    buckets: deque[list[int]] = field(default_factory=deque)  # [bucket index, requests, rejections]
    last_bucket: int = -1


@dataclass(frozen=True)
class ClientCounts:
    active: int
    failing: int


class ClientWindows:
    """Per channel, the clients seen recently and how many of their requests were rejected."""

    def __init__(self, channels: Iterable[str], clock: Callable[[], float], max_clients: int = MAX_CLIENTS) -> None:
        self._clients: dict[str, OrderedDict[str, _Client]] = {channel: OrderedDict() for channel in channels}
        self._clock = clock
        self._max_clients = max_clients
        self._keep = math.ceil(max(WINDOWS.values()) / BUCKET_SECONDS)

    def observe(self, channel: str, client: str | None, rejected: bool) -> None:
        clients = self._clients.get(channel)
        if clients is None:
            return
        key = ANONYMOUS if client is None else client
        state = clients.get(key)
        if state is None:
            state = clients[key] = _Client()
            if len(clients) > self._max_clients:
                clients.popitem(last=False)
        else:
            clients.move_to_end(key)
        bucket = self._bucket()
        if state.last_bucket != bucket:
            state.buckets.append([bucket, 0, 0])
            state.last_bucket = bucket
            while state.buckets[0][0] <= bucket - self._keep:
                state.buckets.popleft()
        state.buckets[-1][1] += 1
        state.buckets[-1][2] += int(rejected)

    def counts(self) -> dict[tuple[str, str], ClientCounts]:
        """(channel, window) -> active and failing clients; forgets clients older than the longest window."""
        bucket = self._bucket()
        result: dict[tuple[str, str], ClientCounts] = {}
        for channel, clients in self._clients.items():
            self._forget_idle(clients, bucket)
            for window, seconds in WINDOWS.items():
                first = bucket - math.ceil(seconds / BUCKET_SECONDS) + 1
                active = failing = 0
                for state in clients.values():
                    requests = rejections = 0
                    for index, seen, rejected in reversed(state.buckets):
                        if index < first:
                            break
                        requests, rejections = requests + seen, rejections + rejected
                    if requests:
                        active += 1
                        failing += rejections >= MIN_FAILURES and rejections >= MIN_FAILING_SHARE * requests
                result[(channel, window)] = ClientCounts(active, failing)
        return result

    def families(self) -> list[Metric]:
        failing = GaugeMetricFamily(
            "tradingbot_auth_failing_clients",
            f"Clients with at least {MIN_FAILURES} auth rejections in the window, at least "
            f"{MIN_FAILING_SHARE:.0%} of their requests",
            labels=["channel", "window"],
        )
        active = GaugeMetricFamily(
            "tradingbot_auth_active_clients", "Clients with any request in the window", labels=["channel", "window"]
        )
        for (channel, window), counts in sorted(self.counts().items()):
            failing.add_metric([channel, window], float(counts.failing))
            active.add_metric([channel, window], float(counts.active))
        return [failing, active]

    def _forget_idle(self, clients: OrderedDict[str, _Client], bucket: int) -> None:
        while clients:
            key, state = next(iter(clients.items()))
            if state.last_bucket > bucket - self._keep:
                return
            del clients[key]

    def _bucket(self) -> int:
        return math.floor(self._clock() / BUCKET_SECONDS)
