"""One misbehaving client or everyone: the client counts behind AuthFailureSpike, by themselves (a clock the
test moves) and through the exporter against the simulator's real traffic."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry

from exporters.auth_clients import ClientCounts, ClientWindows
from tests.exporters.conftest import Exporter


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def windows(max_clients: int = 100) -> tuple[ClientWindows, Clock]:
    clock = Clock()
    return ClientWindows(["api", "websocket"], clock, max_clients), clock


def test_one_client_rejected_among_healthy_ones_is_one_failing_client() -> None:
    clients, clock = windows()
    for second in range(60):
        clock.now += 1
        clients.observe("api", "addr:10.0.0.66", rejected=second % 2 == 0)  # a bad token every 2 s
        for healthy in ("user:a", "user:b", "user:c"):
            clients.observe("api", healthy, rejected=False)
    assert clients.counts()[("api", "2m")] == ClientCounts(active=4, failing=1)
    assert clients.counts()[("websocket", "2m")] == ClientCounts(active=0, failing=0)


def test_everyone_rejected_is_every_client_failing() -> None:
    clients, clock = windows()
    for _ in range(2):  # six connection attempts a minute, all rejected
        for client in ("user:a", "user:b", "user:c"):
            clock.now += 10
            clients.observe("websocket", client, rejected=True)
    assert clients.counts()[("websocket", "2m")] == ClientCounts(active=3, failing=3)


def test_a_refreshed_token_or_a_rare_rejection_is_not_a_failing_client() -> None:
    clients, clock = windows()
    clients.observe("api", "user:refresher", rejected=True)  # expired, refreshed, accepted
    clients.observe("api", "user:refresher", rejected=False)
    for n in range(100):  # a busy client with two rejections among 100 requests
        clock.now += 1
        clients.observe("api", "user:busy", rejected=n in (10, 60))
    assert clients.counts()[("api", "2m")] == ClientCounts(active=2, failing=0)


def test_partial_rejections_of_everyone_make_every_client_failing() -> None:
    """One of three replicas verifies with the wrong key: a third of everyone's requests is rejected."""
    clients, clock = windows()
    for n in range(30):
        clock.now += 2
        for client in ("user:a", "user:b"):
            clients.observe("api", client, rejected=n % 3 == 0)
    assert clients.counts()[("api", "2m")].failing == 2


def test_windows_and_forgetting() -> None:
    clients, clock = windows()
    clients.observe("api", "user:a", rejected=True)
    clients.observe("api", "user:a", rejected=True)
    clients.observe("api", None, rejected=False)  # a line that names no client: the anonymous client
    clients.observe("ftp", "user:z", rejected=True)  # not a channel: ignored
    assert clients.counts()[("api", "2m")] == ClientCounts(active=2, failing=1)
    clock.now += 180
    assert clients.counts()[("api", "2m")] == ClientCounts(active=0, failing=0)
    assert clients.counts()[("api", "10m")] == ClientCounts(active=2, failing=1)
    clock.now += 600
    assert clients.counts()[("api", "10m")] == ClientCounts(active=0, failing=0)
    assert set(clients.counts()) == {(c, w) for c in ("api", "websocket") for w in ("2m", "10m")}


def test_memory_is_bounded_by_forgetting_the_least_recently_seen() -> None:
    clients, _ = windows(max_clients=3)
    for n in range(50):
        clients.observe("api", f"addr:10.0.0.{n}", rejected=True)
        clients.observe("api", f"addr:10.0.0.{n}", rejected=True)
    assert clients.counts()[("api", "2m")] == ClientCounts(active=3, failing=3)


def test_families_are_labelled_by_channel_and_window() -> None:
    clients, _ = windows()
    clients.observe("api", "user:a", rejected=True)
    clients.observe("api", "user:a", rejected=True)
    registry = CollectorRegistry()
    registry.register(type("C", (), {"collect": lambda self: clients.families()})())
    assert registry.get_sample_value("tradingbot_auth_failing_clients", {"channel": "api", "window": "2m"}) == 1
    assert registry.get_sample_value("tradingbot_auth_active_clients", {"channel": "websocket", "window": "10m"}) == 0


def wait_for_clients(exporter: Exporter, channel: str, failing: int, seconds: float = 15.0) -> tuple[float, float]:
    """Scrape until `failing` clients of `channel` are failing over 2m (bounded); return (failing, active)."""
    deadline = time.monotonic() + seconds
    while True:
        scrape = exporter.scrape()
        labels = {"channel": channel, "window": "2m"}
        found = scrape.value("tradingbot_auth_failing_clients", **labels) or 0.0
        active = scrape.value("tradingbot_auth_active_clients", **labels) or 0.0
        if found == failing or time.monotonic() > deadline:
            return found, active
        time.sleep(0.5)


def test_the_simulator_s_clients_one_failing_then_all(exporter: Exporter) -> None:
    exporter.scrape()
    exporter.sim.inject("auth-failures", share=1.0, channel="api", clients=1, reason="bad-signature")
    assert wait_for_clients(exporter, "api", 1) == (1, 3)  # client 1 of 3, by the subject of its token
    exporter.sim.inject("auth-failures", share=0.6, channel="both", reason="missing")
    failing, active = wait_for_clients(exporter, "websocket", 3)
    assert failing == 3  # no token: told apart by their addresses
    assert active >= 3  # accepted, they name their user: a client can count once by user, once by address
