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
from typing import Any

import pytest

from tests.alerts.amstack import (
    Alertmanager,
    CaptureServer,
    automation_copy,
    local_copy,
    post_to_all,
    promtool_alert,
    running_alertmanager,
)
from tests.support.ports import free_port

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("prometheus-alertmanager") is None, reason="prometheus-alertmanager missing"),
]

ESCALATION = promtool_alert("stale-orders.yml", "StaleBacklogEscalation")
CONTROL_DOWN = promtool_alert("auth.yml", "TradingControlEndpointsDown")
STALE = promtool_alert("stale-orders.yml", "StalePendingOrders")
SPIKE = promtool_alert("auth.yml", "AuthFailureSpike")


def _key(alert: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(alert["labels"].items()))


def _at_responder(capture: CaptureServer, status: str) -> set[tuple[tuple[str, str], ...]]:
    return {_key(a) for d in capture.received("responder") for a in d.body["alerts"] if a["status"] == status}


def _cluster(
    stack: ExitStack, config: Path, directory: Path, name: str, peers: int = 2
) -> list[Alertmanager]:
    gossip = [free_port() for _ in range(peers)]
    return [
        stack.enter_context(
            running_alertmanager(config, directory, f"{name}-{n}", (port, [p for p in gossip if p != port]))
        )
        for n, port in enumerate(gossip)
    ]


Pairs = tuple[list[Alertmanager], list[Alertmanager], CaptureServer]


@pytest.fixture(scope="module")
def pairs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pairs]:
    directory: Path = tmp_path_factory.mktemp("alertmanager-ha")
    with CaptureServer() as capture, ExitStack() as stack:
        people_config, _ = local_copy(directory, capture.base_url)
        automation_config, _ = automation_copy(directory, capture.base_url)
        people = _cluster(stack, people_config, directory, "people")
        automation = _cluster(stack, automation_config, directory, "automation")
        everyone = [*people, *automation]
        post_to_all(everyone, [ESCALATION, CONTROL_DOWN])
        capture.wait_for("the sources at the responder", lambda: len(_at_responder(capture, "firing")) == 2, 60)
        post_to_all(everyone, [STALE, SPIKE])
        yield people, automation, capture


def test_both_people_peers_inhibit_and_both_automation_peers_do_not(
    pairs: Pairs,
) -> None:
    people, automation, _ = pairs
    assert [peer.cluster_peers() for peer in [*people, *automation]] == [2, 2, 2, 2]
    for peer in people:
        state = {_key(a): a["status"]["state"] for a in peer.alerts()}
        assert state[_key(STALE)] == state[_key(SPIKE)] == "suppressed", peer.url
    for peer in automation:
        state = {_key(a): a["status"]["state"] for a in peer.alerts()}
        assert set(state.values()) == {"active"} and len(state) == 4, peer.url


def test_every_firing_and_resolve_of_an_inhibited_alert_reaches_the_responder(
    pairs: Pairs,
) -> None:
    people, automation, capture = pairs
    targets = {_key(STALE), _key(SPIKE)}
    capture.wait_for("the inhibited alerts at the responder", lambda: _at_responder(capture, "firing") >= targets)
    ended = datetime.now(UTC).isoformat()
    post_to_all([*people, *automation], [{**STALE, "endsAt": ended}, {**SPIKE, "endsAt": ended}])
    capture.wait_for(
        "the inhibited alerts resolved at the responder", lambda: _at_responder(capture, "resolved") >= targets, 45
    )
    assert not capture.received("pagerduty") or all(
        d.body["payload"]["class"] in ("StaleBacklogEscalation", "TradingControlEndpointsDown")
        for d in capture.received("pagerduty")
    )
