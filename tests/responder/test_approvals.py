"""Approvals: evidence computed from the current state, two different operators for a two-person step,
the re-check right before an approved step runs, expiry, concurrent decisions, and a ledger created by
the previous version upgraded at start."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, select

from common.db import make_engine
from responder.ledger.schema import approvals, metadata, operator_actions
from responder.ledger.store import create_schema
from responder.states import Decision
from tests.responder.harness import Harness, harness, sections
from tests.responder.payloads import alert, ghost_labels, notification
from tests.responder.servers import FakeBroker, SlackCapture
from tests.support.botstate import add_account, add_profile


def parked_close(h: Harness, fake: FakeBroker, qty: float = 50.0) -> int:
    """A ghost run on MSFT (notional above the threshold) whose close step waits for two approvals."""
    fake.positions[("key-acct-1", "MSFT")] = (qty, 100.0)
    (run_id,) = h.post(notification(alert(ghost_labels("p-1", symbol="MSFT")))).json["runs"]
    h.drain()
    reconcile = h.step(run_id, "reconcile")
    h.operator("POST", f"/approvals/{reconcile.id}", {"decision": "reject", "by": "bob", "reason": "not now"})
    h.drain()
    close = h.step(run_id, "close")
    assert close.state == "awaiting_approval" and close.two_person
    return close.id


def approve(h: Harness, step_id: int, by: str) -> int:
    return h.operator("POST", f"/approvals/{step_id}", {"decision": "approve", "by": by, "reason": "ok"}).status_code


def test_the_queue_shows_what_the_step_would_do_now(with_broker: Harness, broker: tuple[FakeBroker, str]) -> None:
    h, fake = with_broker, broker[0]
    step_id = parked_close(h, fake)
    fake.positions[("key-acct-1", "MSFT")] = (30.0, 100.0)  # changed after the step parked
    (item,) = h.operator("GET", "/approvals").json["approvals"]
    assert item["step_id"] == step_id and item["two_person"] and item["approvals_needed"] == 2
    assert item["summary"] == "close 30 MSFT (long) on acct-1 at market, notional 3000.00"
    assert item["evidence"]["rows"] == [{"account": "acct-1", "symbol": "MSFT", "side": "long", "qty": 30.0,
                                         "current_price": 100.0, "notional": 3000.0}]


def test_a_rejection_without_a_reason_is_refused_from_every_surface(
    with_broker: Harness, broker: tuple[FakeBroker, str]
) -> None:
    """The rule lives in the operations, not in a route: the API, the console and Slack all get it."""
    h, fake = with_broker, broker[0]
    step_id = parked_close(h, fake)
    answer = h.operator("POST", f"/approvals/{step_id}", {"decision": "reject", "by": "alice", "reason": "  "})
    assert answer.status_code == 400 and "needs a reason" in answer.json["error"]
    assert h.runtime.operations.decide(step_id, "bob", Decision.REJECT, "", "slack") == "reason_required"
    assert h.step(h.step_run(step_id), "close").state == "awaiting_approval"
    with h.ledger.connect() as conn:
        assert not conn.execute(select(approvals).where(approvals.c.step_id == step_id)).all()


def test_a_two_person_step_needs_two_different_operators_and_runs_once(
    with_broker: Harness, broker: tuple[FakeBroker, str]
) -> None:
    h, fake = with_broker, broker[0]
    step_id = parked_close(h, fake)
    assert approve(h, step_id, "alice") == 202
    assert approve(h, step_id, "alice") == 409  # a second click by the same operator changes nothing
    h.drain()
    assert h.step(h.step_run(step_id), "close").state == "awaiting_approval"
    assert ("key-acct-1", "MSFT") in fake.positions
    assert approve(h, step_id, "bob") == 200
    assert approve(h, step_id, "carol") == 409
    h.drain()
    done = h.step(h.step_run(step_id), "close")
    assert (done.state, done.decided_by, done.attempts) == ("succeeded", "alice, bob", 2)
    assert fake.calls.count("POST /v2/orders") == 1
    with h.ledger.connect() as conn:
        given = conn.execute(select(approvals.c.by, approvals.c.surface).order_by(approvals.c.id)).all()
        audit = conn.execute(select(operator_actions.c.result).where(operator_actions.c.target == f"step:{step_id}"))
        assert [tuple(row) for row in given][-2:] == [("alice", "api"), ("bob", "api")]
        assert [row.result for row in audit] == ["first_approval", "approved"]


def test_an_approved_close_refuses_to_run_when_the_position_changed(
    with_broker: Harness, broker: tuple[FakeBroker, str], slack: tuple[SlackCapture, str]
) -> None:
    h, fake = with_broker, broker[0]
    step_id = parked_close(h, fake, qty=50.0)
    assert approve(h, step_id, "alice") == 202 and approve(h, step_id, "bob") == 200
    fake.positions[("key-acct-1", "MSFT")] = (80.0, 100.0)  # the bot bought more before the step ran
    h.drain()
    step = h.step(h.step_run(step_id), "close")
    assert (step.state, step.approval_reason, step.decision) == ("awaiting_approval", "changed_since_approval", None)
    assert step.output["difference"] == ["qty: 50.0 when approved, 80.0 now"]
    assert fake.calls.count("POST /v2/orders") == 0
    assert approve(h, step_id, "alice") == 202  # a new round: two approvals again
    assert approve(h, step_id, "bob") == 200
    h.drain()
    assert h.step(h.step_run(step_id), "close").state == "succeeded"
    assert fake.calls.count("POST /v2/orders") == 1


def test_two_approvers_who_saw_different_states_start_a_new_round(
    with_broker: Harness, broker: tuple[FakeBroker, str]
) -> None:
    h, fake = with_broker, broker[0]
    step_id = parked_close(h, fake, qty=50.0)
    assert approve(h, step_id, "alice") == 202
    fake.positions[("key-acct-1", "MSFT")] = (70.0, 100.0)
    answer = h.operator("POST", f"/approvals/{step_id}", {"decision": "approve", "by": "bob"})
    assert answer.status_code == 202 and answer.json["result"] == "restarted"
    assert approve(h, step_id, "alice") == 200  # alice approves the state bob saw


def test_an_approval_nobody_gives_expires_and_people_are_told(
    tmp_path: Path, db_url: str, broker: tuple[FakeBroker, str], slack: tuple[SlackCapture, str]
) -> None:
    now = [datetime.now(UTC)]
    config = sections(tmp_path, db_url, broker={"base_url": broker[1]},
                      responder={"max_close_notional": 1000, "approval_timeout_seconds": 600})
    with harness(tmp_path, config, env={"SLACK_WEBHOOK_URL": slack[1]}, clock=lambda: now[0]) as h:
        add_account(h.bot, "acct-1", "key-acct-1")
        add_profile(h.bot, "p-1", "acct-1", now[0])
        (run_id,) = h.post(notification(alert(ghost_labels("p-1", symbol="MSFT")))).json["runs"]
        h.drain()
        assert h.step(run_id, "reconcile").state == "awaiting_approval"
        assert any(r["text"].startswith("Approval needed") for r in slack[0].requests)
        now[0] += timedelta(seconds=599)
        assert h.runtime.executor.expire_approvals() == 0
        now[0] += timedelta(seconds=2)
        assert h.runtime.executor.expire_approvals() == 1
        assert h.runtime.executor.expire_approvals() == 0  # once
        expired = h.step(run_id, "reconcile")
        assert (expired.state, expired.outcome) == ("expired", "approval_expired")
        assert [m for m in slack[0].messages if m.startswith("Approval expired: step reconcile")]
        assert h.operator("POST", f"/approvals/{expired.id}", {"decision": "approve", "by": "x"}).status_code == 409


def test_concurrent_decisions_on_two_replicas_approve_once(
    tmp_path: Path, db_url: str, broker: tuple[FakeBroker, str]
) -> None:
    """Two responder runtimes on one ledger: alice and bob approve at the same moment, twice each."""
    fake = broker[0]
    config = sections(tmp_path, db_url, broker={"base_url": broker[1]}, responder={"max_close_notional": 1000})
    with harness(tmp_path / "a", config) as one, harness(tmp_path / "b", config) as two:
        add_account(one.bot, "acct-1", "key-acct-1")
        add_profile(one.bot, "p-1", "acct-1", datetime.now(UTC))
        step_id = parked_close(one, fake)
        ops = (one.runtime.operations, two.runtime.operations)
        start = threading.Barrier(4)
        results: list[str] = []

        def decide(index: int, by: str) -> None:
            start.wait(5)
            outcome = ops[index % 2].decide(step_id, by, Decision.APPROVE, "", "console")
            results.append(outcome if isinstance(outcome, str) else outcome.result)

        threads = [threading.Thread(target=decide, args=(i, by)) for i, by in enumerate(("alice", "bob") * 2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(20)
        assert sorted(results).count("approved") == 1, results
        assert sorted(results).count("first_approval") == 1, results
        one.drain()
        two.drain()
        assert one.step(one.step_run(step_id), "close").state == "succeeded"
        assert fake.calls.count("POST /v2/orders") == 1


ADDED_COLUMNS = ("two_person", "awaiting_since", "approval_round", "approved_guard")
ADDED_TABLES = ("responder_approvals", "responder_slack_requests")


def previous_version_ledger(engine: Engine) -> None:
    """The ledger as the previous version created it: today's schema without what was added since."""
    metadata.create_all(engine)
    with engine.begin() as conn:
        for table in ADDED_TABLES:
            conn.exec_driver_sql(f"DROP TABLE {table}")
        for column in ADDED_COLUMNS:
            conn.exec_driver_sql(f"ALTER TABLE responder_steps DROP COLUMN {column}")


def test_a_ledger_created_by_the_previous_version_is_upgraded_at_start(
    tmp_path: Path, db_url: str, broker: tuple[FakeBroker, str]
) -> None:
    engine = make_engine(db_url)
    previous_version_ledger(engine)
    assert not set(ADDED_COLUMNS) & {c["name"] for c in inspect(engine).get_columns("responder_steps")}
    engine.dispose()
    fake = broker[0]
    config = sections(tmp_path, db_url, broker={"base_url": broker[1]}, responder={"max_close_notional": 1000})
    with harness(tmp_path, config) as h:  # prepare() upgrades the ledger, as a start does
        columns = {c["name"] for c in inspect(h.ledger).get_columns("responder_steps")}
        assert set(ADDED_COLUMNS) <= columns
        assert set(ADDED_TABLES) <= set(inspect(h.ledger).get_table_names())
        add_account(h.bot, "acct-1", "key-acct-1")
        add_profile(h.bot, "p-1", "acct-1", datetime.now(UTC))
        step_id = parked_close(h, fake)  # and the upgraded ledger works
        assert approve(h, step_id, "alice") == 202 and approve(h, step_id, "bob") == 200
        create_schema(h.ledger)  # a second start adds nothing


@pytest.mark.parametrize(("failure", "kind"), [("5xx", "broker_server_error"), ("429", "broker_rate_limited"),
                                               ("timeout", "broker_timeout")])
def test_an_approved_close_the_broker_does_not_answer_is_retried_and_places_one_order(
    tmp_path: Path, db_url: str, broker: tuple[FakeBroker, str], failure: str, kind: str
) -> None:
    """A broker 5xx, 429 or timeout when the approved close runs is no answer: the step waits to retry (visible in
    the ledger), and closes once the broker answers again, with one order."""
    fake = broker[0]
    retry = {"initial_seconds": 0.2, "max_interval_seconds": 0.4, "max_seconds": 60}
    config = sections(tmp_path, db_url, broker={"base_url": broker[1]},
                      responder={"max_close_notional": 1000, "retry": retry})
    with harness(tmp_path, config) as h:
        add_account(h.bot, "acct-1", "key-acct-1")
        add_profile(h.bot, "p-1", "acct-1", datetime.now(UTC))
        step_id = parked_close(h, fake)
        assert approve(h, step_id, "alice") == 202 and approve(h, step_id, "bob") == 200
        fake.fail = failure
        h.drain()
        waiting = h.step(h.step_run(step_id), "close")
        assert (waiting.state, waiting.outcome) == ("retry_wait", kind), waiting.as_dict()
        assert waiting.retries >= 1 and fake.calls.count("POST /v2/orders") == 0
        fake.fail = ""
        deadline = time.monotonic() + 20
        while h.step(h.step_run(step_id), "close").state == "retry_wait":
            assert time.monotonic() < deadline
            time.sleep(0.1)
            h.drain()
        closed = h.step(h.step_run(step_id), "close")
    assert (closed.state, closed.outcome) == ("succeeded", "changed"), closed.as_dict()
    assert fake.calls.count("POST /v2/orders") == 1 and ("key-acct-1", "MSFT") not in fake.positions
