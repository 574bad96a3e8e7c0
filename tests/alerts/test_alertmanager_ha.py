"""HA: two people's Alertmanagers and two automation Alertmanagers, each pair a gossip cluster (0.25).

Prometheus sends every alert to all four. The people's pair inhibits for people on both peers; the
automation pair delivers every firing and every resolve of the inhibited alerts to the responder, at
least once (duplicates are the responder's to absorb, docs/high-availability.md).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.alerts import amstack
from tests.alerts.amstack import Alertmanager, CaptureServer
from tests.support.ports import free_port

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("prometheus-alertmanager") is None, reason="prometheus-alertmanager missing"),
]

ESCALATION = amstack.promtool_alert("stale-orders.yml", "StaleBacklogEscalation")
CONTROL_DOWN = amstack.promtool_alert("auth.yml", "TradingControlEndpointsDown")
STALE = amstack.promtool_alert("stale-orders.yml", "StalePendingOrders")
SPIKE = amstack.promtool_alert("auth.yml", "AuthFailureSpike")


def _at_responder(capture: CaptureServer, status: str) -> set[tuple[tuple[str, str], ...]]:
    return amstack.delivered(capture.received("responder"), status)


def _cluster(
    stack: ExitStack, config: Path, directory: Path, name: str, peers: int = 2
) -> list[Alertmanager]:
    gossip = [free_port() for _ in range(peers)]
    return [
        stack.enter_context(
            amstack.running_alertmanager(config, directory, f"{name}-{n}", (port, [p for p in gossip if p != port]))
        )
        for n, port in enumerate(gossip)
    ]


Pairs = tuple[list[Alertmanager], list[Alertmanager], CaptureServer]


@pytest.fixture(scope="module")
def pairs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pairs]:
    directory: Path = tmp_path_factory.mktemp("alertmanager-ha")
    with CaptureServer() as capture, ExitStack() as stack:
        people_config, automation_config, _ = amstack.both_copies(directory, capture.base_url)
        people = _cluster(stack, people_config, directory, "people")
        automation = _cluster(stack, automation_config, directory, "automation")
        everyone = [*people, *automation]
        amstack.post_to_all(everyone, [ESCALATION, CONTROL_DOWN])
        capture.wait_for("the sources at the responder", lambda: len(_at_responder(capture, "firing")) == 2, 60)
        amstack.post_to_all(everyone, [STALE, SPIKE])
        yield people, automation, capture


def test_both_people_peers_inhibit_and_both_automation_peers_do_not(
    pairs: Pairs,
) -> None:
    people, automation, _ = pairs
    assert [peer.cluster_peers() for peer in [*people, *automation]] == [2, 2, 2, 2]
    for peer in people:
        state = {amstack.alert_key(a): a["status"]["state"] for a in peer.alerts()}
        assert state[amstack.alert_key(STALE)] == state[amstack.alert_key(SPIKE)] == "suppressed", peer.url
    for peer in automation:
        state = {amstack.alert_key(a): a["status"]["state"] for a in peer.alerts()}
        assert set(state.values()) == {"active"} and len(state) == 4, peer.url


def test_every_firing_and_resolve_of_an_inhibited_alert_reaches_the_responder(
    pairs: Pairs,
) -> None:
    people, automation, capture = pairs
    targets = {amstack.alert_key(STALE), amstack.alert_key(SPIKE)}
    capture.wait_for("the inhibited alerts at the responder", lambda: _at_responder(capture, "firing") >= targets)
    ended = datetime.now(UTC).isoformat()
    amstack.post_to_all([*people, *automation], [{**STALE, "endsAt": ended}, {**SPIKE, "endsAt": ended}])
    capture.wait_for(
        "the inhibited alerts resolved at the responder", lambda: _at_responder(capture, "resolved") >= targets, 45
    )
    assert not capture.received("pagerduty") or all(
        d.body["payload"]["class"] in ("StaleBacklogEscalation", "TradingControlEndpointsDown")
        for d in capture.received("pagerduty")
    )
