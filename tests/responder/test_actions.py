"""Actions against real databases and a fake broker over real HTTP: compare-and-set writes, a write that
changed nothing is a failure, only a twice-confirmed 404 quarantines, thresholds and approvals hold,
and re-enabling a profile requires position parity."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, select, text
from sqlalchemy.engine import make_url

from common.db import make_engine
from responder.ledger.schema import operator_actions
from sources.botdb import orders
from tests.responder.harness import Harness, harness, sections
from tests.responder.outage import ledger_outage
from tests.responder.payloads import alert, ghost_labels, notification
from tests.responder.servers import FakeBroker
from tests.support.botstate import add_account, add_order, add_position, add_profile, profile_account

DAY = timedelta(hours=24)


def order_status(engine: Engine, order_id: str) -> str:
    with engine.connect() as conn:
        return str(conn.execute(select(orders.c.status).where(orders.c.id == order_id)).scalar_one())


def make_writes_ineffective(engine: Engine, role: str) -> None:
    """What an anon-key fallback under row-level security does: UPDATEs match no row, and still succeed."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text(f"CREATE ROLE {role} LOGIN"))
            conn.execute(text(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}"))
            conn.execute(text(f"GRANT UPDATE ON profiles TO {role}"))
            conn.execute(text("ALTER TABLE profiles ENABLE ROW LEVEL SECURITY"))
            conn.execute(text("CREATE POLICY read_all ON profiles FOR SELECT USING (true)"))
            conn.execute(text("CREATE POLICY write_none ON profiles FOR UPDATE USING (false)"))
        else:
            conn.execute(text("CREATE TRIGGER rls BEFORE UPDATE ON profiles BEGIN SELECT RAISE(IGNORE); END"))


def drop_role(engine: Engine, role: str) -> None:
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text(f"DROP OWNED BY {role}"))
            conn.execute(text(f"DROP ROLE {role}"))


def test_a_deactivation_that_changes_nothing_is_a_failure(tmp_path: Path, db_url: str) -> None:
    role = f"anon_fallback_{uuid.uuid4().hex[:8]}"
    bot_url = db_url
    if make_url(db_url).get_backend_name() == "postgresql":
        bot_url = make_url(db_url).set(username=role).render_as_string(hide_password=False)
    owner = make_engine(db_url)
    try:
        with harness(tmp_path, sections(tmp_path, db_url)) as setup:
            add_account(setup.bot, "acct-1")
            add_profile(setup.bot, "p-1", "acct-1", datetime.now(UTC))
            make_writes_ineffective(setup.bot, role)
        with harness(tmp_path, sections(tmp_path, db_url, bot_db={"url": bot_url})) as h:
            (run_id,) = h.post(notification(alert(ghost_labels()))).json["runs"]
            h.drain()
            step = h.step(run_id, "deactivate")
            assert step.state == "failed" and step.outcome == "no_effect"
            assert "changed 0 rows" in (step.error or "") and step.after_state == {
                    "profile": "p-1", "status": "active", "entries": "enabled"
                }
            notify = h.step(run_id, "notify")
            assert notify.state == "skipped" and "FAILED" in notify.output["text"]  # it ran despite the failure
            assert (h.step(run_id, "reconcile").state, h.step(run_id, "reconcile").outcome) == ("skipped", "run_failed")
            assert h.run_state(run_id) == "failed"
    finally:
        drop_role(owner, role)
        owner.dispose()


def test_stale_orders_quarantine_only_old_orders_the_broker_twice_does_not_know(
    with_broker: Harness, broker: tuple[FakeBroker, str]
) -> None:
    h, fake = with_broker, broker[0]
    now = datetime.now(UTC)
    old_missing = add_order(h.bot, "p-1", "pending_new", now - DAY - timedelta(hours=1))
    young_missing = add_order(h.bot, "p-1", "pending_new", now - timedelta(hours=2))
    old_known = add_order(h.bot, "p-1", "new", now - DAY - timedelta(hours=3))
    other_profile = add_order(h.bot, "p-2", "pending_new", now - DAY - timedelta(hours=1))
    fake.add_order("key-acct-1", "b-1", f"c-{old_known}", status="new")
    labels = {"alertname": "StalePendingOrders", "severity": "sev2", "profile": "p-1"}
    (run_id,) = h.post(notification(alert(labels))).json["runs"]
    h.drain()
    check = h.step(run_id, "check")
    assert check.output["counts"] == {"found": 1, "missing": 2, "unavailable": 0}
    quarantine = h.step(run_id, "quarantine")
    assert (quarantine.state, quarantine.output["quarantined"]) == ("succeeded", [old_missing])
    assert quarantine.before_state == {"statuses": {old_missing: "pending_new"}}
    assert order_status(h.bot, old_missing) == "unknown"
    assert order_status(h.bot, young_missing) == "pending_new"  # < 24 h: retry only
    assert order_status(h.bot, other_profile) == "pending_new"  # another profile's alert
    cancel = h.step(run_id, "cancel")
    assert (cancel.state, cancel.approval_reason) == ("awaiting_approval", "policy")
    assert fake.cancelled == []
    h.operator("POST", f"/approvals/{cancel.id}", {"decision": "approve", "by": "alice"})
    h.drain()
    cancelled = h.step(run_id, "cancel")
    assert fake.cancelled == ["b-1"] and cancelled.state == "succeeded"
    assert cancelled.before_state == {"broker_statuses": {old_known: "new"}}
    assert cancelled.after_state == {"results": {old_known: "cancel_requested"}}


def test_checking_and_quarantining_many_orders_of_one_account_read_its_key_id_once_each(with_broker: Harness) -> None:
    h = with_broker
    now = datetime.now(UTC)
    for hours in (2, 3, 4, 5):
        add_order(h.bot, "p-1", "pending_new", now - DAY - timedelta(hours=hours))
    key_reads: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "FROM broker_accounts" in statement:
            key_reads.append(statement)

    event.listen(h.bot, "before_cursor_execute", count)
    labels = {"alertname": "StalePendingOrders", "severity": "sev2", "profile": "p-1"}
    (run_id,) = h.post(notification(alert(labels))).json["runs"]
    h.runtime.executor.run_once()  # the check: four orders of acct-1 looked up at the broker
    h.runtime.executor.run_once()  # the quarantine: each looked up again
    event.remove(h.bot, "before_cursor_execute", count)
    assert h.step(run_id, "check").output["counts"] == {"found": 0, "missing": 4, "unavailable": 0}
    assert len(h.step(run_id, "quarantine").output["quarantined"]) == 4
    assert len(key_reads) == 2  # one per step


@pytest.mark.parametrize("failure", ["5xx", "429", "timeout"])
def test_a_broker_that_does_not_answer_never_makes_an_order_missing(
    with_broker: Harness, broker: tuple[FakeBroker, str], failure: str
) -> None:
    h, fake = with_broker, broker[0]
    old = add_order(h.bot, "p-1", "pending_new", datetime.now(UTC) - 2 * DAY)
    fake.fail = failure
    labels = {"alertname": "StalePendingOrders", "severity": "sev2", "profile": "p-1"}
    (run_id,) = h.post(notification(alert(labels))).json["runs"]
    h.drain()
    assert h.step(run_id, "check").output["counts"] == {"found": 0, "missing": 0, "unavailable": 1}
    assert (h.step(run_id, "quarantine").state, h.step(run_id, "quarantine").outcome) == ("skipped", "not_needed")
    assert order_status(h.bot, old) == "pending_new"


def test_a_second_lookup_that_finds_the_order_prevents_quarantine(
    with_broker: Harness, broker: tuple[FakeBroker, str]
) -> None:
    h, fake = with_broker, broker[0]
    old = add_order(h.bot, "p-1", "pending_new", datetime.now(UTC) - 2 * DAY)
    labels = {"alertname": "StalePendingOrders", "severity": "sev2", "profile": "p-1"}
    (run_id,) = h.post(notification(alert(labels))).json["runs"]
    h.runtime.executor.run_once()  # check: 404
    fake.add_order("key-acct-1", "late", f"c-{old}")  # the broker's index caught up
    h.drain()
    quarantine = h.step(run_id, "quarantine")
    assert quarantine.output["not_confirmed"] == [old] and quarantine.outcome == "unchanged"
    assert order_status(h.bot, old) == "pending_new"


def test_closing_is_skipped_below_the_threshold_and_needs_approval_above(
    with_broker: Harness, broker: tuple[FakeBroker, str]
) -> None:
    h, fake = with_broker, broker[0]
    fake.positions[("key-acct-1", "AAPL")] = (5.0, 100.0)  # notional 500 <= 1000
    fake.positions[("key-acct-1", "MSFT")] = (50.0, 100.0)  # notional 5000 > 1000
    small = h.post(notification(alert(ghost_labels("p-1", symbol="AAPL")))).json["runs"][0]
    large = h.post(notification(alert(ghost_labels("p-2", symbol="MSFT")))).json["runs"][0]
    h.drain()
    for run_id in (small, large):
        reconcile = h.step(run_id, "reconcile")
        assert reconcile.state == "awaiting_approval"
        h.operator("POST", f"/approvals/{reconcile.id}", {"decision": "reject", "by": "bob", "reason": "later"})
    h.drain()
    assert h.step(small, "reconcile").state == "rejected"
    assert (h.step(small, "close").state, h.step(small, "close").outcome) == ("skipped", "not_needed")
    close = h.step(large, "close")
    assert close.state == "awaiting_approval" and ("key-acct-1", "MSFT") in fake.positions
    twice = h.operator("POST", f"/approvals/{h.step(small, 'reconcile').id}", {"decision": "approve", "by": "bob"})
    assert twice.status_code == 409
    assert h.operator("POST", f"/approvals/{close.id}", {"decision": "approve", "by": "carol"}).status_code == 202
    assert h.operator("POST", f"/approvals/{close.id}", {"decision": "approve", "by": "dave"}).status_code == 200
    h.drain()
    closed = h.step(large, "close")
    assert (closed.state, closed.outcome, closed.decided_by) == ("succeeded", "changed", "carol, dave")
    assert closed.before_state["position"]["qty"] == 50.0 and closed.after_state == {"position": None}
    assert ("key-acct-1", "MSFT") not in fake.positions and h.run_state(large) == "succeeded"


def test_a_close_whose_after_state_cannot_be_read_is_still_recorded_as_done(
    with_broker: Harness, broker: tuple[FakeBroker, str]
) -> None:
    h, fake = with_broker, broker[0]
    fake.positions[("key-acct-1", "MSFT")] = (50.0, 100.0)  # notional 5000 > 1000: close awaits approval
    (run_id,) = h.post(notification(alert(ghost_labels("p-1", symbol="MSFT")))).json["runs"]
    h.drain()
    reconcile = h.step(run_id, "reconcile")
    h.operator("POST", f"/approvals/{reconcile.id}", {"decision": "reject", "by": "bob", "reason": "later"})
    h.drain()
    close = h.step(run_id, "close")
    fake.fail_after_close = "5xx"
    assert h.operator("POST", f"/approvals/{close.id}", {"decision": "approve", "by": "carol"}).status_code == 202
    assert h.operator("POST", f"/approvals/{close.id}", {"decision": "approve", "by": "dave"}).status_code == 200
    h.drain()
    closed = h.step(run_id, "close")
    assert (closed.state, closed.outcome) == ("succeeded", "changed")
    assert closed.output["order"]["id"] == "close-MSFT"
    assert closed.after_state == {"position": "unknown", "error": "broker unavailable (server_error)"}
    assert ("key-acct-1", "MSFT") not in fake.positions


def test_reenabling_a_profile_requires_position_parity_at_the_broker(
    with_broker: Harness, broker: tuple[FakeBroker, str]
) -> None:
    h, fake = with_broker, broker[0]
    now = datetime.now(UTC)
    add_position(h.bot, "p-1", "AAPL", 10.0, "open", now)
    add_position(h.bot, "p-2", "AAPL", 5.0, "open", now)
    fake.positions[("key-acct-1", "AAPL")] = (15.0, 100.0)
    fake.positions[("key-acct-1", "TSLA")] = (3.0, 100.0)  # a ghost
    h.post(notification(alert(ghost_labels("p-1", symbol="TSLA"))))
    h.drain()
    assert profile_account(h.bot, "p-1") == ("acct-1", "inactive")
    body = {"by": "alice", "reason": "parity checked"}
    assert h.client.post("/profiles/p-1/enable", json=body).status_code == 401
    refused = h.operator("POST", "/profiles/p-1/enable", body)
    assert refused.status_code == 409
    assert refused.json["parity"]["mismatches"] == [{"symbol": "TSLA", "bot_qty": 0.0, "broker_qty": 3.0}]
    fake.fail = "5xx"
    assert h.operator("POST", "/profiles/p-1/enable", body).status_code == 503
    fake.fail = ""
    del fake.positions[("key-acct-1", "TSLA")]
    enabled = h.operator("POST", "/profiles/p-1/enable", body)
    assert enabled.status_code == 200 and enabled.json["result"] == "enabled"
    assert profile_account(h.bot, "p-1") == ("acct-1", "active")
    assert h.operator("POST", "/profiles/p-1/enable", body).json["result"] == "unchanged"
    assert h.operator("POST", "/profiles/nope/enable", body).status_code == 404
    assert h.operator("POST", "/profiles/p-1/enable", {"by": ""}).status_code == 400


def test_a_profile_is_not_reenabled_while_the_ledger_cannot_record_who_asked(
    tmp_path: Path, broker: tuple[FakeBroker, str]
) -> None:
    ledger_url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    config = sections(tmp_path, f"sqlite:///{tmp_path / 'bot.sqlite3'}", broker={"base_url": broker[1]},
                      responder={"ledger_url": ledger_url})
    with harness(tmp_path, config) as h:
        add_account(h.bot, "acct-1", "key-acct-1")
        add_profile(h.bot, "p-1", "acct-1", datetime.now(UTC), status="inactive")
        body = {"by": "alice", "reason": "parity checked"}
        with ledger_outage(ledger_url, tmp_path):
            refused = h.operator("POST", "/profiles/p-1/enable", body)
        assert refused.status_code == 503 and "ledger" in refused.json["error"]
        assert profile_account(h.bot, "p-1") == ("acct-1", "inactive")
        assert h.operator("POST", "/profiles/p-1/enable", body).json["result"] == "enabled"
        with h.ledger.connect() as conn:
            results = list(conn.execute(select(operator_actions.c.result).order_by(operator_actions.c.id)).scalars())
        assert results == ["requested", "enabled"]


def test_operator_api_refuses_without_the_token_and_lists_runs(with_broker: Harness) -> None:
    h = with_broker
    (run_id,) = h.post(notification(alert(ghost_labels()))).json["runs"]
    assert h.client.get("/approvals").status_code == 401
    assert h.client.get("/approvals", headers={"Authorization": "Bearer nope"}).status_code == 401
    listed = h.operator("GET", "/runs").json["runs"]
    assert [r["id"] for r in listed] == [run_id] and listed[0]["alert"]["labels"]["profile"] == "p-1"
    assert h.operator("GET", f"/runs/{run_id}").json["playbook"] == "GhostPosition/firing"
    assert h.operator("GET", "/runs/999999").status_code == 404
    assert h.operator("GET", "/runs?limit=" + "9" * 5000).status_code == 400  # beyond int()'s digit limit
    assert h.operator("POST", "/approvals/999999", {"decision": "approve", "by": "x"}).status_code == 404
    assert h.operator("POST", "/approvals/1", {"decision": "maybe", "by": "x"}).status_code == 400
