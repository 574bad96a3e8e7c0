"""The ledger's guarantees, on SQLite and PostgreSQL: each occurrence once, one run per new occurrence,
resolved alerts never acted on, and every step executed once however many workers race for it."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select, update

from common.db import write_transaction
from responder.actions.context import ActionContext
from responder.actions.defaults import default_registry
from responder.actions.registry import ActionSpec, Outcome, Params
from responder.ledger import queries
from responder.ledger import steps as ledger_steps
from responder.ledger.ingest import cancel_run
from responder.ledger.schema import alerts, runs
from responder.states import StepState
from tests.responder.harness import Harness, harness, sections
from tests.responder.payloads import alert, ghost_labels, notification
from tests.responder.servers import SlackCapture
from tests.support.botstate import add_account, add_profile, profile_account


def test_repeats_retries_and_duplicates_record_once_and_execute_once(
    responder: Harness, slack: tuple[SlackCapture, str]
) -> None:
    body = notification(alert(ghost_labels()))
    answers = Counter(responder.post(body).status_code for _ in range(100))
    assert answers == {200: 100}
    with responder.ledger.connect() as conn:
        assert conn.execute(select(func.count()).select_from(alerts)).scalar_one() == 1
        assert conn.execute(select(func.count()).select_from(runs)).scalar_one() == 1
    responder.drain()
    (run_id,) = responder.run_ids()
    deactivate = responder.step(run_id, "deactivate")
    assert (deactivate.state, deactivate.outcome, deactivate.attempts) == ("succeeded", "changed", 1)
    assert profile_account(responder.bot, "p-1") == ("acct-1", "inactive")
    assert len(slack[0].messages) == 1
    assert "*Incident*" in slack[0].messages[0] and "SEV-1" in slack[0].messages[0]
    for _ in range(5):
        assert responder.post(body).json["new"] == 0
    assert responder.drain() == 0


def test_resolved_before_firing_suppresses_the_firing_run(responder: Harness) -> None:
    labels = ghost_labels()
    assert responder.post(notification(alert(labels, "resolved"))).status_code == 200
    answer = responder.post(notification(alert(labels, "firing")))
    assert answer.status_code == 200 and answer.json["runs"] == []
    with responder.ledger.connect() as conn:
        dispositions = dict(conn.execute(select(alerts.c.status, alerts.c.disposition)).all())
    assert dispositions == {"resolved": "run", "firing": "suppressed_resolved"}
    responder.drain()
    assert profile_account(responder.bot, "p-1") == ("acct-1", "active")


def test_a_resolve_cancels_the_firing_run_before_it_acts(responder: Harness) -> None:
    labels = ghost_labels()
    (firing_run,) = responder.post(notification(alert(labels))).json["runs"]
    responder.post(notification(alert(labels, "resolved")))
    assert responder.run_state(firing_run) == "cancelled"
    assert {s.outcome for s in responder.steps(firing_run)} == {"alert_resolved"}
    responder.drain()
    assert profile_account(responder.bot, "p-1") == ("acct-1", "active")


def claim_due_step(h: Harness, now: datetime, owner: str = "worker-a", lease: float = 30) -> ledger_steps.Claim:
    """Claim the one due step by hand, as a worker would, without running it."""
    (due,) = ledger_steps.find_due(h.ledger, now)
    claim = ledger_steps.claim(h.ledger, due, owner, now, lease)
    assert isinstance(claim, ledger_steps.Claim)
    return claim


def test_claim_time_check_cancels_a_run_whose_alert_resolved_mid_step(responder: Harness) -> None:
    labels = ghost_labels()
    (firing_run,) = responder.post(notification(alert(labels))).json["runs"]
    now = datetime.now(UTC)
    claim = claim_due_step(responder, now)
    assert claim.step.name == "evidence"
    responder.post(notification(alert(labels, "resolved")))  # a step is in flight: the run is left alone
    assert responder.run_state(firing_run) == "active"
    captured = ledger_steps.StepEnd(StepState.SUCCEEDED, "captured")
    assert ledger_steps.finish(responder.ledger, claim.lease, captured, now)
    responder.drain()
    assert responder.run_state(firing_run) == "cancelled"
    assert responder.step(firing_run, "deactivate").outcome == "alert_resolved"
    assert profile_account(responder.bot, "p-1") == ("acct-1", "active")


def test_a_step_finishing_after_its_run_was_cancelled_leaves_the_run_cancelled(responder: Harness) -> None:
    # PostgreSQL's READ COMMITTED lets a resolve cancel a run while a claim of its step is committing
    (run_id,) = responder.post(notification(alert(ghost_labels()))).json["runs"]
    now = datetime.now(UTC)
    claim = claim_due_step(responder, now)
    with write_transaction(responder.ledger) as conn:
        cancel_run(conn, run_id, "alert_resolved", now)
    captured = ledger_steps.StepEnd(StepState.SUCCEEDED, "captured")
    assert ledger_steps.finish(responder.ledger, claim.lease, captured, now)
    assert responder.run_state(run_id) == "cancelled"
    assert responder.step(run_id, "evidence").state == "succeeded"
    assert responder.drain() == 0
    assert profile_account(responder.bot, "p-1") == ("acct-1", "active")


def test_an_action_never_starts_on_an_expired_lease(responder: Harness) -> None:
    responder.post(notification(alert(ghost_labels())))
    now = datetime.now(UTC)
    slow = claim_due_step(responder, now, "slow-worker", lease=5)
    later = now + timedelta(seconds=6)  # the checks before the action outlasted the lease
    assert not ledger_steps.record_before(responder.ledger, slow.lease, {"x": 1}, later, 30)
    (again,) = ledger_steps.find_due(responder.ledger, later)
    assert again.step_id == slow.step.id  # free for another worker; the slow one must not act


def test_recording_the_before_state_starts_a_full_lease_for_the_action(responder: Harness) -> None:
    responder.post(notification(alert(ghost_labels())))
    now = datetime.now(UTC)
    claim = claim_due_step(responder, now, lease=5)
    at = now + timedelta(seconds=4)
    assert ledger_steps.record_before(responder.ledger, claim.lease, {"x": 1}, at, 30)
    assert ledger_steps.find_due(responder.ledger, now + timedelta(seconds=20)) == []  # held until at + 30 s
    assert [d.step_id for d in ledger_steps.find_due(responder.ledger, at + timedelta(seconds=31))] == [claim.step.id]


def test_a_run_recorded_as_a_dry_run_stays_one_on_a_live_responder(responder: Harness) -> None:
    (run_id,) = responder.post(notification(alert(ghost_labels()))).json["runs"]
    with write_transaction(responder.ledger) as conn:  # as a dry-run replica records it
        conn.execute(update(runs).where(runs.c.id == run_id).values(mode="dry-run"))
    responder.drain()
    assert responder.step(run_id, "deactivate").state == "dry_run"
    assert profile_account(responder.bot, "p-1") == ("acct-1", "active")


def test_recent_runs_lists_the_newest_runs_as_run_view_shows_each(responder: Harness) -> None:
    for profile in ("p-1", "p-2"):
        responder.post(notification(alert(ghost_labels(profile))))
    stale = {"alertname": "StalePendingOrders", "severity": "sev2", "profile": "p-1"}
    responder.post(notification(alert(stale)))
    responder.drain()
    newest_first = sorted(responder.run_ids(), reverse=True)
    assert queries.recent_runs(responder.ledger) == [queries.run_view(responder.ledger, i) for i in newest_first]
    assert [v.run.id for v in queries.recent_runs(responder.ledger, limit=2)] == newest_first[:2]
    ghosts = queries.recent_runs(responder.ledger, alertname="GhostPosition")
    assert [v.alert.alertname for v in ghosts] == ["GhostPosition", "GhostPosition"] and all(v.steps for v in ghosts)


def test_unknown_alertnames_are_recorded_with_no_run(responder: Harness) -> None:
    answer = responder.post(notification(alert({"alertname": "SomethingElse", "severity": "sev3"})))
    assert answer.status_code == 200 and answer.json == {"status": "recorded", "alerts": 1, "new": 1, "runs": []}
    with responder.ledger.connect() as conn:
        assert conn.execute(select(alerts.c.disposition)).scalar_one() == "no_playbook"


@pytest.mark.parametrize("mode", ["dry-run", "off"])
def test_dry_run_and_off_change_nothing(tmp_path: Path, db_url: str, mode: str) -> None:
    with harness(tmp_path, sections(tmp_path, db_url, responder={"mode": mode})) as h:
        add_account(h.bot, "acct-1")
        add_profile(h.bot, "p-1", "acct-1", datetime.now(UTC))
        answer = h.post(notification(alert(ghost_labels())))
        assert answer.status_code == 200
        h.drain()
        assert profile_account(h.bot, "p-1") == ("acct-1", "active")
        if mode == "off":
            assert answer.json["runs"] == [] and h.steps() == []
            return
        states = {s.name: s.state for s in h.steps()}
        assert states == {"evidence": "succeeded", "deactivate": "dry_run", "notify": "dry_run",
                          "reconcile": "dry_run", "close": "retry_wait"}  # no broker answers: retried
        metrics = h.client.get("/metrics").text
        assert 'tradingbot_responder_mode{mode="dry-run"} 1.0' in metrics


class CountParams(Params):
    sleep: float = 0.02


def counting_registry(counter: Counter[int], lock: threading.Lock) -> Any:
    def count(ctx: ActionContext, params: CountParams) -> Outcome:
        with lock:
            counter[ctx.step_id] += 1
        time.sleep(params.sleep)
        return Outcome("succeeded", "changed")

    return default_registry([ActionSpec("count", CountParams, count, "mutate", "count executions (test)")])


def write_playbooks(tmp_path: Path, steps: list[dict[str, Any]], alertname: str = "TestAlert") -> Path:
    path = tmp_path / "playbooks.yml"
    path.write_text(yaml.safe_dump({"playbooks": {alertname: {"firing": steps}}}))
    return path


def test_racing_workers_execute_every_step_exactly_once(tmp_path: Path, db_url: str) -> None:
    counter: Counter[int] = Counter()
    registry = counting_registry(counter, threading.Lock())
    book = write_playbooks(tmp_path, [{"name": f"s{i}", "action": "count"} for i in range(3)])
    with harness(tmp_path, sections(tmp_path, db_url, responder={"playbooks": str(book)}), registry=registry) as h:
        for n in range(4):
            h.post(notification(alert({"alertname": "TestAlert", "n": str(n)})))
        def work(owner: str) -> None:
            for _ in range(30):
                h.runtime.executor.run_once(owner)

        workers = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(6)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
        h.drain()
        assert len(counter) == 12 and set(counter.values()) == {1}
        assert {(s.state, s.attempts) for s in h.steps()} == {("succeeded", 1)}


def test_an_expired_lease_is_reclaimed_and_the_idempotent_action_sees_the_done_state(
    tmp_path: Path, db_url: str
) -> None:
    with harness(tmp_path, sections(tmp_path, db_url, responder={"lease_seconds": 1})) as h:
        add_account(h.bot, "acct-1")
        add_profile(h.bot, "p-1", "acct-1", datetime.now(UTC))
        (run_id,) = h.post(notification(alert(ghost_labels()))).json["runs"]
        h.runtime.executor.run_once()  # evidence
        now = datetime.now(UTC)
        (due,) = ledger_steps.find_due(h.ledger, now)
        crashed = ledger_steps.claim(h.ledger, due, "crashed-worker", now, 0.2)
        assert isinstance(crashed, ledger_steps.Claim) and crashed.step.name == "deactivate"
        spec = h.runtime.services.registry.get("deactivate_profile")
        ctx = ActionContext(h.runtime.services, crashed.alert, run_id, crashed.step.id)
        assert spec.run(ctx, spec.params()).detail == "changed"  # acted, then "crashed" before recording
        assert ledger_steps.find_due(h.ledger, datetime.now(UTC)) == []
        time.sleep(0.3)
        h.drain()
        step = h.step(run_id, "deactivate")
        assert (step.state, step.outcome, step.attempts) == ("succeeded", "unchanged", 2)
        late = ledger_steps.StepEnd(StepState.FAILED, "late")
        assert not ledger_steps.finish(h.ledger, crashed.lease, late, datetime.now(UTC))  # the lease is gone


def test_budget_holds_parks_and_reports_and_an_approval_overrides_it(
    tmp_path: Path, db_url: str, slack: tuple[SlackCapture, str]
) -> None:
    config = sections(tmp_path, db_url, responder={"budget": {"max_deactivations": 1, "window_seconds": 600}})
    with harness(tmp_path, config, env={"SLACK_WEBHOOK_URL": slack[1]}) as h:
        add_account(h.bot, "acct-1")
        for profile in ("p-1", "p-2"):
            add_profile(h.bot, profile, "acct-1", datetime.now(UTC))
        first = h.post(notification(alert(ghost_labels("p-1")))).json["runs"][0]
        second = h.post(notification(alert(ghost_labels("p-2")))).json["runs"][0]
        h.drain()
        assert h.step(first, "deactivate").state == "succeeded"
        parked = h.step(second, "deactivate")
        assert (parked.state, parked.approval_reason) == ("awaiting_approval", "budget_exhausted")
        assert profile_account(h.bot, "p-2") == ("acct-1", "active")
        assert any("budget exhausted" in message for message in slack[0].messages)
        metrics = h.client.get("/metrics").text
        assert 'tradingbot_responder_budget_remaining{budget="deactivate_profile"} 0.0' in metrics
        assert 'tradingbot_responder_budget_exhausted_total{budget="deactivate_profile"} 1.0' in metrics
        assert 'tradingbot_responder_ledger_backlog{state="awaiting_approval"} 2.0' in metrics  # + reconcile of run 1
        listed = h.operator("GET", "/approvals").json["approvals"]
        assert {item["reason"] for item in listed} == {"budget_exhausted", "policy"}
        answer = h.operator("POST", f"/approvals/{parked.id}", {"decision": "approve", "by": "alice", "reason": "ok"})
        assert answer.status_code == 200
        h.drain()
        assert h.step(second, "deactivate").state == "succeeded"
        assert profile_account(h.bot, "p-2") == ("acct-1", "inactive")
