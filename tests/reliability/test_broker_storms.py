"""Broker storms (runbook fault scenarios 7-9): the simulator's broker answers 429, 5xx, times out or drops the
connection — for some accounts all the time, or for every account on a share of requests (flaky storms) —
while a ghost exists on one account and positions match on the others.

Exporter side, on every one of many scrapes: no false ghost (no ghost series for an account in parity), no
false clear (the ghost's account shows its ghost, or no verdict at all: ``tradingbot_broker_up 0`` and no
position or ghost series — never a series claiming parity), never a ghost series with value 0.
Responder side: the stale-order check never counts an unanswered lookup as "missing", and nothing but an
order the broker twice answered 404 for is ever quarantined.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from sources.botdb import orders
from tests.exporters.conftest import Scrape, make_exporter
from tests.reliability.scale import SCALE
from tests.responder.harness import Harness, harness, sections
from tests.support.simulator import RunningSimulator, merge, start_simulator

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

MODES = ["429", "5xx", "timeout", "connection"]
SHAPES = ["outage", "flaky"]
READ_TIMEOUT = 0.5


@pytest.fixture(scope="module")
def storm_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSimulator]:
    tmp_path: Path = tmp_path_factory.mktemp("storms")
    broker = {"connect_timeout_seconds": READ_TIMEOUT, "read_timeout_seconds": READ_TIMEOUT}
    with start_simulator(tmp_path, f"sqlite:///{tmp_path / 'bot.sqlite3'}", broker=broker) as sim:
        yield sim


@pytest.fixture
def sim(storm_sim: RunningSimulator) -> RunningSimulator:
    storm_sim.reset()
    return storm_sim


def storm(sim: RunningSimulator, mode: str, shape: str, accounts: list[str]) -> None:
    options: dict[str, Any] = {"mode": mode, "delay_seconds": READ_TIMEOUT * 2}
    if shape == "outage":
        options["accounts"] = ",".join(accounts)
    else:
        options["share"] = 0.5
    sim.inject("broker-outage", **options)


def rounds(total: int, mode: str) -> int:
    return max(3, total // 3) if mode == "timeout" else total  # each timed-out read costs READ_TIMEOUT


def labelled(samples: dict[tuple[tuple[str, str], ...], float]) -> list[tuple[dict[str, str], float]]:
    return [(dict(key), value) for key, value in samples.items()]


def verdict(scrape: Scrape, ghost: tuple[str, str]) -> dict[str, float]:
    """Check one scrape against the rules above; return broker_up per account."""
    ghost_account, ghost_symbol = ghost
    up = {labels["account"]: value for labels, value in labelled(scrape.samples("tradingbot_broker_up"))}
    ghosts = labelled(scrape.samples("tradingbot_ghost_position"))
    quantities = {labels["account"] for labels, _ in labelled(scrape.samples("tradingbot_broker_position_quantity"))}
    assert all(value == 1 for _, value in ghosts), ghosts
    assert {labels["account"] for labels, _ in ghosts} <= {ghost_account}, f"false ghost: {ghosts}"
    for account, value in up.items():
        if value == 0:
            assert account not in quantities, f"{account}: quantities while the broker is unreadable"
    shown = [labels for labels, _ in ghosts if labels["account"] == ghost_account]
    if up[ghost_account] == 1:
        assert [labels["symbol"] for labels in shown] == [ghost_symbol], f"false clear: {ghosts}"
    else:
        assert shown == [], "a ghost verdict from an unreadable broker"
    assert scrape.value("tradingbot_collector_up", collector="ghost_positions") == 1
    return up


@pytest.mark.parametrize("mode", MODES)
def test_broker_storms_give_no_false_ghost_and_no_false_clear(sim: RunningSimulator, mode: str) -> None:
    applied = sim.inject("ghost", profile="p-1", symbol="TSLA", qty=7)
    ghost = (applied["account"], "TSLA")
    exporter = make_exporter(sim)
    try:
        accounts = sorted(verdict(exporter.scrape(), ghost))
        parity = next(a for a in accounts if a != ghost[0])
        seen: dict[str, Counter[tuple[str, float]]] = {}
        for shape in SHAPES:
            storm(sim, mode, shape, [ghost[0], parity])
            seen[shape] = Counter()
            for _ in range(rounds(SCALE.storm_scrapes, mode)):
                for account, value in verdict(exporter.scrape(), ghost).items():
                    seen[shape][(account, value)] += 1
        sim.inject("reset")
        sim.inject("ghost", profile="p-1", symbol="TSLA", qty=7)
        assert verdict(exporter.scrape(), ghost) == dict.fromkeys(accounts, 1.0)  # after the storm: the ghost again
        errors = exporter.scrape().samples("tradingbot_broker_errors_total")
    finally:
        exporter.close()
    outage, flaky = seen["outage"], seen["flaky"]
    assert outage[(ghost[0], 1.0)] == outage[(parity, 1.0)] == 0, outage  # never a verdict while unreadable
    assert all(outage[(a, 1.0)] > 0 for a in accounts if a not in (ghost[0], parity)), outage
    assert flaky[(ghost[0], 0.0)] > 0 and flaky[(ghost[0], 1.0)] > 0, flaky  # the storm really was flaky
    assert sum(errors.values()) > 0


def stale_stack(tmp_path: Path, sim: RunningSimulator) -> Any:
    shared = {k: sim.sections[k] for k in ("bot_db", "broker", "bot", "supabase")}
    config = merge(sections(tmp_path, sim.db_url), shared)
    config["responder"]["ledger_url"] = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    env = {k: v for k, v in sim.env.items() if not k.startswith("RESPONDER_")}
    return harness(tmp_path, config, env=env)


def statuses(h: Harness, ids: list[str]) -> dict[str, str]:
    with h.bot.connect() as conn:
        return dict(conn.execute(select(orders.c.id, orders.c.status).where(orders.c.id.in_(ids))).all())  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", MODES)
def test_broker_storms_never_make_the_responder_quarantine_an_order(
    tmp_path: Path, sim: RunningSimulator, mode: str
) -> None:
    stale = sim.inject("stale-orders", profile="p-2", count=4, missing_at_broker=2, older_than_24h=4)
    missing, known = [o["id"] for o in stale["orders"][:2]], [o["id"] for o in stale["orders"][2:]]
    account = sim.inject("ghost", profile="p-2")["account"]
    checks = Counter[str]()
    with stale_stack(tmp_path, sim) as h:
        for shape in SHAPES:
            storm(sim, mode, shape, [account])
            for n in range(rounds(SCALE.storm_checks, mode)):
                labels = {"alertname": "StalePendingOrders", "severity": "sev2", "profile": "p-2", "n": f"{shape}{n}"}
                answer = h.post({**notification_for(labels)})
                assert answer.status_code == 200
                h.drain()
                (run_id,) = answer.json["runs"]
                check = h.step(run_id, "check").output
                for order in check["orders"]:
                    checks[order["broker"]] += 1
                    if order["broker"] == "missing":
                        assert order["id"] in missing, f"{order['id']} is known to the broker, yet 'missing'"
                quarantine = h.step(run_id, "quarantine")
                assert set(quarantine.output.get("quarantined", [])) <= set(missing), quarantine.output
                if shape == "outage":
                    assert check["counts"]["missing"] == check["counts"]["found"] == 0, check["counts"]
                    assert quarantine.outcome == "not_needed"
                current = statuses(h, missing + known)
                assert all(current[i] != "unknown" for i in known), current
                if shape == "outage":
                    assert all(current[i] != "unknown" for i in missing), "quarantined without any broker answer"
    assert checks["unavailable"] > 0 and checks["found"] + checks["missing"] > 0, checks


def notification_for(labels: dict[str, str]) -> dict[str, Any]:
    from tests.responder.payloads import alert, notification

    return notification(alert(labels))
