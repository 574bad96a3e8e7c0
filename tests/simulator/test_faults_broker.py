"""The broker-outage fault in each mode, as the project's broker client classifies it."""

from __future__ import annotations

import time

import pytest
import requests

from sources.broker import BrokerUnavailable
from tests.simulator.helpers import broker
from tests.support.simulator import RunningSimulator


@pytest.mark.parametrize(
    "mode, kind, status",
    [("5xx", "server_error", 503), ("429", "rate_limited", 429), ("unauthorized", "unauthorized", 401),
     ("connection", "connection", None), ("malformed", "bad_response", None)],
)
def test_outage_modes(sim: RunningSimulator, session: requests.Session, mode: str, kind: str,
                      status: int | None) -> None:
    result = sim.inject("broker-outage", mode=mode)
    assert result["accounts"] == ["acct-1", "acct-2", "acct-3"]
    with pytest.raises(BrokerUnavailable) as caught:
        broker(sim, session).list_positions()
    assert (caught.value.kind, caught.value.status) == (kind, status)
    ready = session.get(f"{sim.bot_url}/health/ready", timeout=5)
    assert ready.status_code == 503 and "broker_unreachable" in ready.json()["degraded"]
    sim.reset()
    assert broker(sim, session).list_positions()


def test_rate_limit_answer_carries_the_reset_header(sim: RunningSimulator) -> None:
    sim.inject("broker-outage", mode="429")
    headers = {"APCA-API-KEY-ID": "sim-key-acct-1", "APCA-API-SECRET-KEY": sim.env["APCA_API_SECRET_KEY"]}
    answer = requests.get(f"{sim.broker_url}/v2/positions", headers=headers, timeout=5)
    assert answer.status_code == 429 and answer.json()["code"] == 42910000
    assert int(answer.headers["X-Ratelimit-Reset"]) > time.time()


def test_timeout_mode_outlasts_the_client_timeout(sim: RunningSimulator, session: requests.Session) -> None:
    sim.inject("broker-outage", mode="timeout", delay_seconds=2)
    started = time.monotonic()
    with pytest.raises(BrokerUnavailable) as caught:
        broker(sim, session, timeout=(1.0, 0.5)).list_positions()
    assert caught.value.kind == "timeout" and time.monotonic() - started < 1.9


def test_outage_can_hit_a_subset_of_accounts(sim: RunningSimulator, session: requests.Session) -> None:
    sim.inject("broker-outage", mode="5xx", accounts="acct-2")
    assert broker(sim, session, "acct-1").list_positions()
    with pytest.raises(BrokerUnavailable):
        broker(sim, session, "acct-2").list_positions()
    assert session.get(f"{sim.bot_url}/health/ready", timeout=5).status_code == 200


def test_flaky_storm_fails_about_its_share(sim: RunningSimulator, session: requests.Session) -> None:
    sim.inject("broker-outage", mode="429", share=0.5)
    client = broker(sim, session)
    failures = 0
    for _ in range(200):
        try:
            client.list_positions()
        except BrokerUnavailable:
            failures += 1
    assert 60 <= failures <= 140


def test_unknown_account_in_the_subset_is_rejected(sim: RunningSimulator) -> None:
    answer = requests.post(f"{sim.control_url}/faults/broker-outage", json={"accounts": "acct-99"}, timeout=5)
    assert answer.status_code == 400 and "acct-99" in answer.json()["error"]


def test_reconcile_leaves_unreachable_accounts_alone(sim: RunningSimulator, session: requests.Session) -> None:
    phantom = sim.inject("phantom", profile="p-1")
    sim.inject("broker-outage", mode="5xx", accounts="acct-1")
    service = {"Authorization": f"Bearer {sim.env['SUPABASE_SERVICE_ROLE_KEY']}"}
    result = session.post(f"{sim.bot_url}/admin/reconcile", headers=service, timeout=5).json()
    assert result["skipped_accounts"] == ["acct-1"] and result["changed"] == 0
    sim.inject("broker-outage", mode="5xx", accounts="acct-2")
    result = session.post(f"{sim.bot_url}/admin/reconcile", headers=service, timeout=5).json()
    assert [(c["profile"], c["symbol"]) for c in result["closed"]] == [(phantom["profile"], phantom["symbol"])]
