"""One incident per incident: an HA Prometheus pair fires one alert with startsAt up to one evaluation interval
apart, and Alertmanager may deliver either; within `occurrence_window_seconds` that is one occurrence, one run."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from sqlalchemy import func, select

from common.config import ResponderConfig
from responder.ledger.schema import alerts, runs
from stack.local import local_occurrence_window
from tests.responder.harness import PLAYBOOKS, REPO, WEBHOOK_TOKEN, Harness
from tests.responder.payloads import alert, ghost_labels, notification

STARTS = datetime(2026, 11, 24, 23, 23, 28, 426000, tzinfo=UTC)


def counts(h: Harness) -> tuple[int, int]:
    with h.ledger.connect() as conn:
        occurrences = conn.execute(select(func.count()).select_from(alerts)).scalar_one()
        created = conn.execute(select(func.count()).select_from(runs)).scalar_one()
    return int(occurrences), int(created)


def test_replicas_startsat_within_the_window_are_one_occurrence_and_one_run(responder: Harness) -> None:
    h = responder
    first = h.post(notification(alert(ghost_labels(), starts_at=STARTS)))
    other_replica = h.post(notification(alert(ghost_labels(), starts_at=STARTS + timedelta(seconds=14))))
    earlier_replica = h.post(notification(alert(ghost_labels(), starts_at=STARTS - timedelta(seconds=9))))
    assert first.json["new"] == 1 and len(first.json["runs"]) == 1
    assert other_replica.json == {**other_replica.json, "new": 0, "runs": []}
    assert earlier_replica.json["new"] == 0 and earlier_replica.json["runs"] == []
    assert counts(h) == (1, 1)
    # a resolve carrying the other replica's startsAt resolves the one occurrence and cancels its run
    resolved = h.post(notification(alert(ghost_labels(), "resolved", starts_at=STARTS + timedelta(seconds=14))))
    assert resolved.json["new"] == 1
    assert h.run_state(first.json["runs"][0]) == "cancelled"
    with h.ledger.connect() as conn:
        starts = set(conn.execute(select(alerts.c.starts_at)).scalars())
    assert starts == {STARTS}


def test_a_firing_further_apart_than_the_window_is_a_new_incident(responder: Harness) -> None:
    h = responder
    h.post(notification(alert(ghost_labels(), starts_at=STARTS)))
    later = h.post(notification(alert(ghost_labels(), starts_at=STARTS + timedelta(seconds=16))))
    assert later.json["new"] == 1 and len(later.json["runs"]) == 1
    assert counts(h) == (2, 2)


@pytest.mark.postgres
def test_both_replicas_delivered_at_the_same_moment_still_make_one_run(responder: Harness) -> None:
    """Two deliveries racing in separate transactions (each Alertmanager of a pair, to its own responder)."""
    h = responder
    if h.ledger.dialect.name != "postgresql":
        pytest.skip("the race between transactions is PostgreSQL's (SQLite serialises writers)")
    answers: list[int] = []
    app = h.client.application

    def post(body: dict[str, object], barrier: threading.Barrier) -> None:
        client = app.test_client()
        barrier.wait(5)
        answer = client.post("/alerts", json=body, headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}"})
        answers.append(answer.status_code)

    for round_number in range(5):
        labels = ghost_labels(symbol=f"SYM{round_number}")
        bodies = [notification(alert(labels, starts_at=STARTS + timedelta(seconds=s))) for s in (0, 7)]
        barrier = threading.Barrier(2)
        threads = [threading.Thread(target=post, args=(body, barrier)) for body in bodies]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
    assert answers == [200] * 10
    assert counts(h) == (5, 5)


def _seconds(duration: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    number = duration.rstrip("smh")
    unit = duration[len(number):]
    return float(number) * units[unit]


def _playbook_fors() -> dict[str, float]:
    """The `for` of every alert that has a playbook."""
    with_playbook = set(yaml.safe_load(PLAYBOOKS.read_text())["playbooks"])
    found: dict[str, float] = {}
    for path in sorted((REPO / "alerts" / "rules").glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if rule.get("alert") in with_playbook and "for" in rule:
                    found[rule["alert"]] = _seconds(rule["for"])
    return found


def test_the_default_window_covers_one_evaluation_interval_and_never_merges_two_real_firings() -> None:
    """An HA pair's firings of one alert are up to one evaluation interval apart: a shorter window splits
    them. Two real firings of one alert on one replica are at least `for` + two intervals apart (fired,
    resolved at a later evaluation, pending again at a later one, `for` again), so at least `for` + one
    interval across the pair: a window that long could merge a resolve-and-fire-again into one incident."""
    window = ResponderConfig.model_fields["occurrence_window_seconds"].default
    prometheus = yaml.safe_load((REPO / "alerts" / "prometheus.yml").read_text())
    evaluation = _seconds(prometheus["global"]["evaluation_interval"])
    assert window >= evaluation
    for name, hold in _playbook_fors().items():
        assert window < hold + evaluation, (name, hold)


@pytest.mark.parametrize("interval", [1.0, 2.0])
def test_the_local_stack_s_window_fits_its_short_intervals(interval: float) -> None:
    """The local stack and the e2e tests scrape and evaluate every 1-2 s: the production window (15 s) would
    merge two real ghost firings there, so the stack sets its own. With scrape and evaluation phases both
    free, an HA pair's firings are up to two intervals apart, and two real firings at least `for` apart
    across the pair (`for` + two intervals on one replica, less that skew): the window fits between."""
    window = local_occurrence_window(interval)
    assert window >= 2 * interval
    for name, hold in _playbook_fors().items():
        assert window <= hold, (name, hold)
