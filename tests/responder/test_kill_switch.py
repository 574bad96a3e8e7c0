"""The graduated kill switch through the operator API: levels, exactly-once engagement and steps, reduce-only
flattening under client order ids, re-arming per profile (SQLite and PostgreSQL ledgers)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from responder.actions.context import ActionContext
from responder.actions.killswitch import FlattenOutput, KillParams, flatten_positions
from responder.ledger import queries
from responder.ledger.schema import kill_switch, operator_actions
from sources.botdb import profiles
from tests.responder.harness import Harness, harness, sections
from tests.responder.payloads import alert, notification
from tests.responder.servers import FakeBroker
from tests.support.botstate import add_account, add_position, add_profile, profile_account


def engage(h: Harness, level: str, by: str = "alice", profiles: list[str] | None = None) -> tuple[int, Any]:
    body = {"level": level, "by": by, "reason": "drill", **({"profiles": profiles} if profiles else {})}
    answer = h.operator("POST", "/kill-switch", body)
    return answer.status_code, answer.json


def in_force(h: Harness) -> list[Any]:
    found: Any = h.operator("GET", "/kill-switch").json
    return list(found["in_force"])


def approve(h: Harness, step_id: int, by: str) -> int:
    return h.operator("POST", f"/approvals/{step_id}", {"decision": "approve", "by": by}).status_code


def test_stop_entries_deactivates_every_profile_once_and_a_second_engage_runs_nothing(with_broker: Harness) -> None:
    h = with_broker
    status, body = engage(h, "stop-entries")
    assert status == 201 and body["result"] == "engaged"
    assert body["engagement"]["profiles"] == ["p-1", "p-2"]
    again, second = engage(h, "stop-entries", by="bob")
    assert again == 200 and second["result"] == "already_engaged"
    assert second["engagement"]["run_id"] == body["engagement"]["run_id"]
    h.drain()
    run_id = body["engagement"]["run_id"]
    step = h.step(run_id, "stop-entries")
    assert (step.state, step.outcome) == ("succeeded", "changed")
    assert [p["entries"] for p in step.before_state["profiles"]] == ["enabled", "enabled"]
    assert [p["status"] for p in step.after_state["profiles"]] == ["inactive", "inactive"]
    assert profile_account(h.bot, "p-1") == ("acct-1", "inactive")
    assert len(h.run_ids()) == 1 and h.run_state(run_id) == "succeeded"
    assert [e["level"] for e in in_force(h)] == ["stop-entries"]
    with h.ledger.connect() as conn:
        audit = conn.execute(select(operator_actions.c.result).where(operator_actions.c.kind == "kill_switch"))
        assert [row.result for row in audit] == ["engaged", "already_engaged"]
    metrics = h.client.get("/metrics").text
    assert 'tradingbot_responder_kill_switch_engaged{level="stop-entries"} 1.0' in metrics
    assert 'tradingbot_responder_kill_switch_engaged{level="flatten"} 0.0' in metrics


def test_engaging_from_many_threads_at_once_creates_one_engagement(with_broker: Harness) -> None:
    h = with_broker
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda n: engage(h, "cancel-working", by=f"op-{n}")[0], range(4)))
    assert sorted(answers) == [200, 200, 200, 201]
    with h.ledger.connect() as conn:
        assert len(conn.execute(select(kill_switch)).all()) == 1
    assert len(h.run_ids()) == 1


def test_a_chosen_profile_and_unknown_ones(with_broker: Harness) -> None:
    h = with_broker
    assert engage(h, "stop-entries", profiles=["p-9"])[0] == 404
    assert h.operator("POST", "/kill-switch", {"level": "halt", "by": "alice"}).status_code == 400
    status, body = engage(h, "stop-entries", profiles=["p-2"])
    assert status == 201 and body["engagement"]["profiles"] == ["p-2"]
    h.drain()
    assert profile_account(h.bot, "p-1") == ("acct-1", "active")
    assert profile_account(h.bot, "p-2") == ("acct-1", "inactive")
    status, wider = engage(h, "cancel-working", profiles=["p-2"])  # the broker cancels per account: p-1 too
    assert status == 201 and wider["engagement"]["profiles"] == ["p-1", "p-2"]


def test_cancel_working_cancels_every_working_order_on_the_accounts(
    with_broker: Harness, broker: tuple[FakeBroker, str]
) -> None:
    h, fake = with_broker, broker[0]
    fake.add_order("key-acct-1", "o-working", "c-1", "new")
    fake.add_order("key-acct-1", "o-partial", "c-2", "partially_filled")
    fake.add_order("key-acct-1", "o-done", "c-3", "filled")
    fake.add_order("key-other", "o-elsewhere", "c-4", "new")
    status, body = engage(h, "cancel-working")
    assert status == 201
    h.drain()
    run_id = body["engagement"]["run_id"]
    assert h.step(run_id, "stop-entries").state == "succeeded"
    step = h.step(run_id, "cancel-working")
    assert (step.state, step.outcome) == ("succeeded", "changed")
    assert sorted(fake.cancelled) == ["o-partial", "o-working"]
    assert sorted(o["id"] for o in step.before_state["orders"]) == ["o-partial", "o-working"]
    assert sorted(step.output["cancel_requested"]) == ["o-partial", "o-working"]


def test_flatten_needs_two_operators_closes_reduce_only_once_and_rearming_releases_it(
    with_broker: Harness, broker: tuple[FakeBroker, str]
) -> None:
    h, fake = with_broker, broker[0]
    fake.positions[("key-acct-1", "MSFT")] = (50.0, 100.0)
    fake.positions[("key-acct-1", "TSLA")] = (-10.0, 200.0)  # a short: bought back, never sold further
    status, body = engage(h, "flatten")
    assert status == 201
    h.drain()
    run_id = body["engagement"]["run_id"]
    flatten = h.step(run_id, "flatten")
    assert flatten.state == "awaiting_approval" and flatten.two_person
    approvals: Any = h.operator("GET", "/approvals").json
    (item,) = approvals["approvals"]
    assert item["summary"] == "close 2 position(s) reduce-only at market, notional 7000.00"
    assert approve(h, flatten.id, "alice") == 202
    assert approve(h, flatten.id, "alice") == 409
    h.drain()
    assert fake.calls.count("POST /v2/orders") == 0
    assert approve(h, flatten.id, "bob") == 200 and approve(h, flatten.id, "carol") == 409
    h.drain()
    done = h.step(run_id, "flatten")
    assert (done.state, done.outcome, done.decided_by) == ("succeeded", "changed", "alice, bob")
    assert fake.calls.count("POST /v2/orders") == 2 and not fake.positions
    placed = {o["symbol"]: o for o in done.output["orders"]}
    assert (placed["MSFT"]["side"], placed["MSFT"]["qty"]) == ("sell", 50.0)
    assert (placed["TSLA"]["side"], placed["TSLA"]["qty"]) == ("buy", 10.0)
    assert placed["MSFT"]["client_order_id"] == f"rsp-{run_id}-{done.id}-acct-1-MSFT"
    assert done.after_state == {"positions": []}
    # re-arm p-1 then p-2 (parity holds: the bot holds nothing, the broker now neither)
    assert h.operator("POST", "/profiles/p-1/enable", {"by": "alice"}).status_code == 200
    assert [e["level"] for e in in_force(h)] == ["flatten"]
    assert h.operator("POST", "/profiles/p-2/enable", {"by": "alice"}).status_code == 200
    assert in_force(h) == []
    assert engage(h, "flatten")[0] == 201  # released: it can be engaged again


def test_a_flatten_step_run_again_after_a_crash_places_no_second_order(
    with_broker: Harness, broker: tuple[FakeBroker, str]
) -> None:
    h, fake = with_broker, broker[0]
    fake.positions[("key-acct-1", "MSFT")] = (50.0, 100.0)
    _, body = engage(h, "flatten", profiles=["p-1"])
    run_id = body["engagement"]["run_id"]
    h.drain()
    step = h.step(run_id, "flatten")
    view = queries.run_view(h.ledger, run_id)
    assert view is not None
    ctx = ActionContext(h.runtime.services, view.alert, run_id, step.id)
    params = KillParams(profiles=("p-1",))
    first = flatten_positions(ctx, params).output
    assert isinstance(first, FlattenOutput) and first.orders[0].placed == "placed"
    fake.positions[("key-acct-1", "MSFT")] = (50.0, 100.0)  # the order was accepted but had not filled yet
    second = flatten_positions(ctx, params).output  # the same step again: the broker refuses the repeated id (422)
    assert isinstance(second, FlattenOutput) and second.orders[0].placed == "already_placed"
    assert second.orders[0].id == first.orders[0].id
    assert len([o for o in fake.orders.values() if o["client_order_id"].startswith("rsp-")]) == 1


def test_flatten_leaves_positions_of_other_accounts_and_the_bots_records_alone(
    with_broker: Harness, broker: tuple[FakeBroker, str]
) -> None:
    h, fake = with_broker, broker[0]
    add_position(h.bot, "p-1", "MSFT", 5.0, "open", datetime.now(UTC))
    fake.positions[("key-acct-1", "MSFT")] = (5.0, 100.0)
    fake.positions[("key-other", "MSFT")] = (7.0, 100.0)
    _, body = engage(h, "flatten")
    h.drain()
    step = h.step(body["engagement"]["run_id"], "flatten")
    assert approve(h, step.id, "alice") == 202 and approve(h, step.id, "bob") == 200
    h.drain()
    assert fake.positions == {("key-other", "MSFT"): (7.0, 100.0)}


@pytest.mark.parametrize("alertname", ["UnauthenticatedTradeAccepted", "GhostPositionsOnSeveralProfiles"])
def test_an_alert_bound_to_the_kill_switch_engages_stop_entries_once_an_operator_approves(
    with_broker: Harness, alertname: str
) -> None:
    h = with_broker
    labels = {"alertname": alertname, "severity": "sev1"}
    posted: Any = h.post(notification(alert(labels))).json
    (run_id,) = posted["runs"]
    h.drain()
    step = h.step(run_id, "kill-switch")
    assert step.state == "awaiting_approval" and in_force(h) == []
    assert profile_account(h.bot, "p-1") == ("acct-1", "active")
    approvals: Any = h.operator("GET", "/approvals").json
    assert [a["summary"] for a in approvals["approvals"]] == [
        "engage the kill switch (stop-entries) for every profile: no new entries until re-armed"]
    assert approve(h, step.id, "alice") == 200
    h.drain()
    done = h.step(run_id, "kill-switch")
    assert (done.state, done.outcome) == ("succeeded", "changed")
    (engagement,) = in_force(h)
    assert engagement["level"] == "stop-entries" and engagement["surface"] == "playbook"
    assert engagement["engaged_by"] == f"playbook {alertname}"
    assert [profile_account(h.bot, p) for p in ("p-1", "p-2")] == [("acct-1", "inactive")] * 2
    assert h.run_state(engagement["run_id"]) == "succeeded"


def test_a_covered_profile_resumed_some_other_way_is_still_re_armed_only_with_parity(
    with_broker: Harness, broker: tuple[FakeBroker, str]
) -> None:
    h, fake = with_broker, broker[0]
    engage(h, "stop-entries", profiles=["p-1"])
    h.drain()
    with h.bot.begin() as conn:  # someone resumed p-1 in the bot itself
        conn.execute(update(profiles).where(profiles.c.id == "p-1").values(status="active"))
    fake.positions[("key-acct-1", "TSLA")] = (3.0, 100.0)  # the bot records nothing: parity fails
    refused = h.operator("POST", "/profiles/p-1/enable", {"by": "alice"})
    assert refused.status_code == 409 and [e["level"] for e in in_force(h)] == ["stop-entries"]
    del fake.positions[("key-acct-1", "TSLA")]
    answer: Any = h.operator("POST", "/profiles/p-1/enable", {"by": "alice"}).json
    assert answer["result"] == "unchanged" and in_force(h) == []


def test_an_unreadable_broker_is_retried_never_taken_for_nothing_to_cancel(
    with_broker: Harness, broker: tuple[FakeBroker, str]
) -> None:
    h, fake = with_broker, broker[0]
    fake.add_order("key-acct-1", "o-working", "c-1", "new")
    fake.fail = "5xx"
    _, body = engage(h, "flatten")
    h.drain()
    run_id = body["engagement"]["run_id"]
    assert h.step(run_id, "stop-entries").state == "succeeded"
    cancel = h.step(run_id, "cancel-working")
    assert (cancel.state, cancel.outcome) == ("retry_wait", "broker_server_error")
    assert h.step(run_id, "flatten").state == "pending" and fake.cancelled == []


def test_a_flatten_nobody_approved_can_be_engaged_again_a_completed_level_cannot(
    with_broker: Harness, broker: tuple[FakeBroker, str]
) -> None:
    h, fake = with_broker, broker[0]
    fake.positions[("key-acct-1", "MSFT")] = (50.0, 100.0)
    _, stop = engage(h, "stop-entries")
    _, first = engage(h, "flatten")
    h.drain()
    assert engage(h, "stop-entries")[0] == 200  # its run did all its work: still the one in force
    flatten = h.step(first["engagement"]["run_id"], "flatten")
    reject = {"decision": "reject", "by": "bob", "reason": "not yet"}
    assert h.operator("POST", f"/approvals/{flatten.id}", reject).status_code == 200
    h.drain()
    status, second = engage(h, "flatten", by="carol")
    assert status == 201 and second["engagement"]["run_id"] != first["engagement"]["run_id"]
    assert sorted(e["run_id"] for e in in_force(h)) == sorted(
        [stop["engagement"]["run_id"], second["engagement"]["run_id"]])
    assert engage(h, "flatten")[0] == 200


def test_engaging_is_refused_while_the_responder_is_off(tmp_path: Path, db_url: str) -> None:
    with harness(tmp_path, sections(tmp_path, db_url, responder={"mode": "off"})) as h:
        add_account(h.bot, "acct-1", "key-acct-1")
        add_profile(h.bot, "p-1", "acct-1", datetime.now(UTC))
        status, body = engage(h, "stop-entries")
        assert status == 409 and "mode is off" in body["error"] and h.run_ids() == []


def test_a_flatten_whose_broker_stops_answering_midway_is_retried_and_places_each_close_once(
    with_broker: Harness, broker: tuple[FakeBroker, str]
) -> None:
    """The first close is placed, then the broker answers 5xx: no answer is not a refusal, so the step waits to
    retry (never failed, never a second engagement with new client order ids) and closes the rest once."""
    h, fake = with_broker, broker[0]
    fake.positions[("key-acct-1", "MSFT")] = (50.0, 100.0)
    fake.positions[("key-acct-1", "TSLA")] = (-10.0, 200.0)
    _, body = engage(h, "flatten")
    h.drain()
    run_id = body["engagement"]["run_id"]
    flatten = h.step(run_id, "flatten")
    fake.fail_after_close = "5xx"
    assert approve(h, flatten.id, "alice") == 202 and approve(h, flatten.id, "bob") == 200
    h.drain()
    waiting = h.step(run_id, "flatten")
    assert (waiting.state, waiting.outcome) == ("retry_wait", "broker_server_error"), waiting.as_dict()
    assert len(fake.orders) == 1
    fake.fail = fake.fail_after_close = ""
    deadline = time.monotonic() + 30
    while h.step(run_id, "flatten").state not in ("succeeded", "failed", "awaiting_approval"):
        assert time.monotonic() < deadline, h.step(run_id, "flatten").as_dict()
        time.sleep(0.1)
        h.drain()
    step = h.step(run_id, "flatten")
    if step.state == "awaiting_approval":  # the positions changed since the approval: people see the rest first
        assert step.approval_reason == "changed_since_approval"
        assert approve(h, step.id, "alice") == 202 and approve(h, step.id, "bob") == 200
        h.drain()
        step = h.step(run_id, "flatten")
    assert step.state == "succeeded", step.as_dict()
    assert not fake.positions and len(fake.orders) == 2
    assert sorted(o["symbol"] for o in fake.orders.values()) == ["MSFT", "TSLA"]


def test_a_profile_is_not_re_armed_while_its_kill_switch_level_still_waits_to_act(
    with_broker: Harness, broker: tuple[FakeBroker, str]
) -> None:
    """A flatten waiting for its approvers would close the positions of a profile trading again: re-arming is
    refused until the level's run is over (done, rejected or expired)."""
    h, fake = with_broker, broker[0]
    fake.positions[("key-acct-1", "MSFT")] = (50.0, 100.0)
    _, body = engage(h, "flatten", profiles=["p-1"])
    h.drain()
    run_id = body["engagement"]["run_id"]
    flatten = h.step(run_id, "flatten")
    assert flatten.state == "awaiting_approval"
    del fake.positions[("key-acct-1", "MSFT")]  # parity holds: only the running level stands in the way
    refused = h.operator("POST", "/profiles/p-1/enable", {"by": "alice", "reason": "done"})
    assert refused.status_code == 409 and "kill switch" in refused.json["error"], refused.json
    assert profile_account(h.bot, "p-1") == ("acct-1", "inactive")
    reject = {"decision": "reject", "by": "bob", "reason": "flat already"}
    assert h.operator("POST", f"/approvals/{flatten.id}", reject).status_code == 200
    h.drain()
    assert h.run_state(run_id) != "active"
    assert h.operator("POST", "/profiles/p-1/enable", {"by": "alice", "reason": "done"}).status_code == 200
    assert profile_account(h.bot, "p-1") == ("acct-1", "active")
