"""Truthful evidence and notices, and the Next Update kept: the ghost is re-checked when evidence is captured,
notices say what each step did and who the run waits for, and the promised update is posted when due (once,
whichever replica), with a final notice on resolve."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from responder.ledger import notices
from tests.responder.harness import Harness, harness, sections
from tests.responder.payloads import alert, ghost_labels, notification
from tests.responder.servers import FakeBroker, SlackCapture
from tests.support.botstate import add_account, add_position, add_profile
from tests.support.wsgi import serve_wsgi

KEY = "key-acct-1"
UPDATE_MINUTES = 0.02  # 1.2 s


@pytest.fixture
def broker() -> Iterator[FakeBroker]:
    fake = FakeBroker()
    with serve_wsgi(fake.app()) as url:
        fake.url = url  # type: ignore[attr-defined]
        yield fake


def config(tmp_path: Path, db_url: str, broker: FakeBroker, slack_url: str, **responder: Any) -> dict[str, Any]:
    return sections(tmp_path, db_url, broker={"base_url": broker.url},  # type: ignore[attr-defined]
                    responder={"notify": {"next_update_minutes": UPDATE_MINUTES}, **responder})


@pytest.fixture
def h(tmp_path: Path, db_url: str, broker: FakeBroker, slack: tuple[SlackCapture, str]) -> Iterator[Harness]:
    with harness(tmp_path, config(tmp_path, db_url, broker, slack[1]), env={"SLACK_WEBHOOK_URL": slack[1]}) as h:
        add_account(h.bot, "acct-1", KEY)
        add_profile(h.bot, "p-1", "acct-1", datetime.now(UTC))
        yield h


def test_a_late_ghost_alert_with_bot_and_broker_in_parity_is_said_so_and_suggests_no_cause(
    h: Harness, broker: FakeBroker, slack: tuple[SlackCapture, str]
) -> None:
    broker.positions[(KEY, "AAPL")] = (10.0, 100.0)
    add_position(h.bot, "p-1", "AAPL", 10.0, "open", datetime.now(UTC))  # the bot recorded the fill meanwhile
    (run_id,) = h.post(notification(alert(ghost_labels()))).json["runs"]
    h.drain()
    evidence = h.step(run_id, "evidence").output
    assert evidence["ghost_at_capture"] == "absent" and (evidence["bot_qty"], evidence["broker_qty"]) == (10.0, 10.0)
    assert evidence["suggested_category"] == "undetermined" and evidence["exit_orders"] == []
    assert evidence["summary"].startswith("no ghost at capture: bot and broker agree on 10 AAPL")
    (message,) = slack[0].messages
    assert "no ghost at capture" in message and "records none" not in message and "suggested cause" not in message
    assert h.step(run_id, "deactivate").state == "succeeded"  # the documented choice: deactivated as a precaution
    resolved = h.post(notification(alert(ghost_labels(), "resolved"))).json["runs"][0]
    h.drain()
    assert h.step(resolved, "rca").output["category"] == "undetermined"


def test_a_ghost_that_is_there_is_described_with_both_quantities_and_a_cause(
    h: Harness, broker: FakeBroker, slack: tuple[SlackCapture, str]
) -> None:
    broker.positions[(KEY, "AAPL")] = (10.0, 100.0)
    add_position(h.bot, "p-1", "AAPL", 10.0, "closed", datetime.now(UTC) - timedelta(minutes=5))
    (run_id,) = h.post(notification(alert(ghost_labels()))).json["runs"]
    h.drain()
    evidence = h.step(run_id, "evidence").output
    assert evidence["ghost_at_capture"] == "present" and evidence["suggested_category"] == "stale local state"
    assert "broker holds 10 AAPL on account acct-1, the bot records 0" in evidence["summary"]


def test_a_broker_that_does_not_answer_leaves_the_ghost_unverified_with_no_cause(
    h: Harness, broker: FakeBroker
) -> None:
    broker.fail = "5xx"
    (run_id,) = h.post(notification(alert(ghost_labels()))).json["runs"]
    h.drain()
    evidence = h.step(run_id, "evidence").output
    assert evidence["ghost_at_capture"] == "unverified" and evidence["suggested_category"] == "undetermined"
    assert evidence["summary"].startswith("ghost not re-checked: broker unavailable (server_error)")


def test_the_notice_of_a_failed_run_promises_no_approval(h: Harness, slack: tuple[SlackCapture, str]) -> None:
    (run_id,) = h.post(notification(alert(ghost_labels("p-missing")))).json["runs"]
    h.drain()
    assert h.step(run_id, "deactivate").state == "failed"
    (message,) = slack[0].messages
    assert message.startswith(":warning: mitigation FAILED")
    assert "reconcile: will not run: an earlier step failed" in message
    assert "close: will not run: an earlier step failed" in message
    assert "approval" not in message
    assert (h.step(run_id, "reconcile").state, h.step(run_id, "reconcile").outcome) == ("skipped", "run_failed")


def _next_update(message: str) -> str:
    found = re.search(r"\*Next Update\*: (.*)", message)
    assert found, message
    return found.group(1)


def test_the_next_update_is_posted_when_due_with_what_changed_and_a_final_notice_on_resolve(
    h: Harness, slack: tuple[SlackCapture, str]
) -> None:
    messages = slack[0].messages
    (run_id,) = h.post(notification(alert(ghost_labels()))).json["runs"]
    h.drain()
    (first,) = messages
    promised = datetime.fromisoformat(h.step(run_id, "notify").output["next_update"])
    assert _next_update(first) == promised.strftime("%Y-%m-%d %H:%M UTC")
    assert "reconcile: will wait for an operator's approval" in first
    assert h.drain() == 0 and len(messages) == 1  # not due yet
    _drain_until(h, lambda: len(messages) == 2)
    update = messages[1]
    posted_at = notices.posted(h.ledger, run_id)[0][2]
    assert posted_at is not None and promised <= posted_at <= promised + timedelta(seconds=2)
    assert "— update 1" in update and "*Since the last notice*:" in update
    step_id = h.step(run_id, "reconcile").id  # parked since the first notice: the update says who to ask
    assert f"reconcile: waits for an operator's approval (policy): responder approvals approve {step_id}" in update
    assert "• reconcile: waits for an operator's approval" in update.split("*Since the last notice*:")[1]
    _drain_until(h, lambda: len(messages) == 3)
    assert "— update 2" in messages[2] and "• no change" in messages[2]
    h.post(notification(alert(ghost_labels(), "resolved")))
    h.drain()
    final = messages[-1]
    assert "(RESOLVED)" in final and _next_update(final) == "none: the incident is resolved"
    assert "reconcile: skipped (alert_resolved)" in final and "deactivate: profile p-1 set inactive" in final
    count = len(messages)
    time.sleep(UPDATE_MINUTES * 60 * 1.5)
    h.drain()
    assert len(messages) == count  # no update after the final notice
    assert notices.posted(h.ledger, run_id)[-1][1] == "cancelled"


def test_each_update_is_posted_once_across_replicas(
    tmp_path: Path, db_url: str, broker: FakeBroker, slack: tuple[SlackCapture, str]
) -> None:
    cfg = config(tmp_path, db_url, broker, slack[1])
    env = {"SLACK_WEBHOOK_URL": slack[1]}
    with harness(tmp_path / "a", cfg, env=env) as first, harness(tmp_path / "b", cfg, env=env) as second:
        add_account(first.bot, "acct-1", KEY)
        add_profile(first.bot, "p-1", "acct-1", datetime.now(UTC))
        (run_id,) = first.post(notification(alert(ghost_labels()))).json["runs"]
        first.drain()
        stop = time.monotonic() + UPDATE_MINUTES * 60 * 3.5

        def work(replica: Harness) -> None:
            while time.monotonic() < stop:
                replica.runtime.executor.run_once()
                time.sleep(0.01)

        threads = [threading.Thread(target=work, args=(replica,)) for replica in (first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        updates = [m for m in slack[0].messages if "— update" in m]
        posted = notices.posted(first.ledger, run_id)
    numbers = [int(re.search(r"— update (\d+)", m).group(1)) for m in updates]  # type: ignore[union-attr]
    assert len(numbers) >= 2 and sorted(numbers) == list(range(1, len(numbers) + 1)), numbers
    assert [seq for seq, state, _, _ in posted if state == "posted"] == sorted(numbers)


def test_a_truncation_the_responder_raised_itself_promises_no_update(
    h: Harness, slack: tuple[SlackCapture, str]
) -> None:
    """It never resolves (no Alertmanager holds it): an update promised for it would be posted forever."""
    truncated = notification(alert(ghost_labels()), truncated=3)
    h.post(truncated)
    h.drain()
    raised = next(m for m in slack[0].messages if "cut by max_alerts" in m)
    assert _next_update(raised) == "none scheduled"
    run_id = max(h.run_ids())
    assert notices.posted(h.ledger, run_id) == []


def _drain_until(h: Harness, done: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline
        h.drain()
        time.sleep(0.02)
