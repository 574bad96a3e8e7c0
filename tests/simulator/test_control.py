"""The control API: listing faults, errors naming the kind or option, settings."""

from __future__ import annotations

import pytest
import requests

from tests.support.simulator import RunningSimulator


def test_active_faults_are_listed_until_reset(sim: RunningSimulator) -> None:
    sim.inject("bot-degraded")
    sim.inject("broker-outage", mode="429", accounts=["acct-1"], share=0.3)
    active = sim.faults()["active"]
    assert set(active) == {"bot-degraded", "broker-outage"}
    assert active["broker-outage"] == {"mode": "429", "accounts": ["acct-1"], "share": 0.3, "delay_seconds": 5.0}
    sim.reset()
    assert sim.faults()["active"] == {}


@pytest.mark.parametrize(
    "kind, options, message",
    [
        ("meteor", {}, "unknown fault kind 'meteor'"),
        ("ghost", {"colour": "red"}, "ghost: unknown option --colour"),
        ("ghost", {"cause": "gremlins"}, "ghost: --cause:"),
        ("stale-orders", {"count": 2, "missing-at-broker": 3}, "cannot exceed count"),
        ("stale-orders", {"status": "filled"}, "stale-orders: --status: must be a working status"),
        ("auth-failures", {"share": 1.5}, "auth-failures: --share:"),
        ("ghost", {"profile": "p-404"}, "unknown profile 'p-404'"),
    ],
)
def test_bad_requests_are_400_naming_the_problem(sim: RunningSimulator, kind: str, options: dict[str, object],
                                                 message: str) -> None:
    answer = requests.post(f"{sim.control_url}/faults/{kind}", json=options, timeout=5)
    assert answer.status_code == 400
    assert message in answer.json()["error"]
    assert sim.faults()["active"] == {}


def test_settings_validate_and_apply(sim: RunningSimulator) -> None:
    assert sim.settings(broker_latency_ms=25)["broker_latency_ms"] == 25
    bad = requests.post(f"{sim.control_url}/settings", json={"latency": 3}, timeout=5)
    assert bad.status_code == 400 and "latency" in bad.json()["error"]
    negative = requests.post(f"{sim.control_url}/settings", json={"broker_latency_ms": -1}, timeout=5)
    assert negative.status_code == 400
    assert requests.get(f"{sim.control_url}/settings", timeout=5).json()["broker_latency_ms"] == 25
