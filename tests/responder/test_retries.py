"""Transient failures (no answer from the bot database or a hook) are retried, restart-safe; definite refusals
fail at once; compare-and-set keeps a retried write from acting twice. The bot database really goes away
(PostgreSQL refuses connections) and comes back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import inspect, text

from responder.actions.context import ActionContext
from responder.actions.defaults import default_registry
from responder.actions.profiles import ProfileParams, deactivate_profile, precheck
from responder.actions.registry import ActionSpec, Outcome
from responder.actions.transient import TransientError
from responder.ledger.store import create_schema, make_ledger_engine
from tests.responder.harness import Harness, harness, sections
from tests.responder.outage import ledger_outage
from tests.responder.payloads import alert, ghost_labels, notification
from tests.support import databases
from tests.support.botstate import add_account, add_profile, profile_account
from tests.support.wsgi import serve_wsgi

FAST_RETRY = {"initial_seconds": 0.2, "max_interval_seconds": 0.4, "max_seconds": 30}


@pytest.fixture
def bot_url(postgres_available: None) -> Iterator[str]:
    """The bot's own PostgreSQL database (apart from the ledger, so that it can go away alone)."""
    with databases.temporary_database() as url:
        yield url


def config(tmp_path: Path, ledger_url: str, bot_url: str, **responder: Any) -> dict[str, Any]:
    return sections(tmp_path, ledger_url, bot_db={"url": bot_url}, responder={"retry": FAST_RETRY, **responder})


def seed(h: Harness) -> None:
    add_account(h.bot, "acct-1", "key-acct-1")
    add_profile(h.bot, "p-1", "acct-1", datetime.now(UTC))


def drain_until(h: Harness, done: Any, timeout: float = 20.0) -> None:
    """Run due steps (retries fall due as time passes) until `done()` (bounded)."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, [s.as_dict() for s in h.steps()]
        h.drain()
        time.sleep(0.05)


@pytest.mark.postgres
def test_a_bot_database_blip_is_retried_across_a_restart_and_the_profile_is_deactivated(
    tmp_path: Path, postgres_url: str, bot_url: str
) -> None:
    cfg = config(tmp_path, postgres_url, bot_url)
    with harness(tmp_path / "first", cfg) as h:
        seed(h)
        with ledger_outage(bot_url, tmp_path):
            (run_id,) = h.post(notification(alert(ghost_labels()))).json["runs"]
            h.drain()  # evidence reads the bot DB: no answer
            evidence = h.step(run_id, "evidence")
            assert (evidence.state, evidence.outcome) == ("retry_wait", "database_unavailable")
            assert evidence.retries == 1 and evidence.retry_at and evidence.retry_deadline
            assert "database_unavailable" in (evidence.error or "")
            listed = h.operator("GET", f"/runs/{run_id}").get_json()
            assert {s["name"]: s["state"] for s in listed["steps"]}["evidence"] == "retry_wait"
            assert listed["steps"][0]["retries"] == 1 and listed["steps"][0]["retry_at"]
            metrics = h.client.get("/metrics").text
            assert ('tradingbot_responder_step_retries_total{action="capture_ghost_evidence",'
                    'kind="database_unavailable"} 1.0') in metrics
            assert 'tradingbot_responder_ledger_backlog{state="retry_wait"} 1.0' in metrics
            time.sleep(0.5)
            h.drain()  # still down: retried again, still waiting
            assert h.step(run_id, "evidence").retries == 2
    # the responder restarts; the database is back: the pending retry continues from the ledger
    with harness(tmp_path / "second", cfg) as h:
        drain_until(h, lambda: h.step(run_id, "notify").state != "pending")
        assert h.step(run_id, "evidence").state == "succeeded"
        deactivate = h.step(run_id, "deactivate")
        assert (deactivate.state, deactivate.outcome) == ("succeeded", "changed")
        assert profile_account(h.bot, "p-1") == ("acct-1", "inactive")
        assert h.run_state(run_id) == "active" and h.step(run_id, "reconcile").state == "awaiting_approval"


@pytest.mark.postgres
def test_retrying_stops_after_the_configured_time_and_fails_the_step(
    tmp_path: Path, postgres_url: str, bot_url: str
) -> None:
    retry = {"initial_seconds": 0.2, "max_interval_seconds": 0.2, "max_seconds": 1.0}
    with harness(tmp_path, config(tmp_path, postgres_url, bot_url, retry=retry)) as h:
        seed(h)
        with ledger_outage(bot_url, tmp_path):
            (run_id,) = h.post(notification(alert(ghost_labels()))).json["runs"]
            drain_until(h, lambda: h.step(run_id, "deactivate").state in ("failed", "succeeded"), timeout=15)
        evidence, deactivate = h.step(run_id, "evidence"), h.step(run_id, "deactivate")
        assert (evidence.state, evidence.outcome) == ("failed", "retries_exhausted")
        assert (deactivate.state, deactivate.outcome) == ("failed", "retries_exhausted")
        assert "gave up after" in (deactivate.error or "") and deactivate.retries >= 3
        assert h.run_state(run_id) == "failed"
        assert profile_account(h.bot, "p-1") == ("acct-1", "active")


@dataclass
class Hook:
    answers: list[int]
    calls: int = 0
    seen: list[int] = field(default_factory=list)

    def app(self) -> Flask:
        app = Flask("bot-hook")

        @app.post("/admin/reconcile")
        def reconcile() -> tuple[dict[str, str], int]:
            status = self.answers[min(self.calls, len(self.answers) - 1)]
            self.calls += 1
            self.seen.append(status)
            return {"status": "ok" if status < 300 else "error"}, status

        return app


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("answers", "state", "calls"),
    [([503, 429, 200], "succeeded", 3), ([400], "failed", 1), ([403, 200], "failed", 1)],
)
def test_hook_5xx_and_429_are_retried_and_a_definite_refusal_fails_at_once(
    tmp_path: Path, postgres_url: str, bot_url: str, answers: list[int], state: str, calls: int
) -> None:
    hook = Hook(answers)
    with serve_wsgi(hook.app()) as url:
        cfg = config(tmp_path, postgres_url, bot_url)
        cfg["bot"]["reconcile_url"] = f"{url}/admin/reconcile"
        with harness(tmp_path, cfg) as h:
            seed(h)
            (run_id,) = h.post(notification(alert(ghost_labels()))).json["runs"]
            h.drain()
            step_id = h.step(run_id, "reconcile").id
            approval = {"decision": "approve", "by": "alice"}
            assert h.operator("POST", f"/approvals/{step_id}", approval).status_code == 200
            drain_until(h, lambda: h.step(run_id, "reconcile").state in ("succeeded", "failed"))
            reconcile = h.step(run_id, "reconcile")
    assert reconcile.state == state and hook.calls == calls, reconcile.as_dict()
    assert reconcile.retries == calls - 1


@pytest.mark.postgres
def test_a_retried_write_that_had_committed_does_not_act_twice(tmp_path: Path, postgres_url: str, bot_url: str) -> None:
    """The write commits, then the answer is lost (a transient error): the retry's precheck finds it done."""
    writes: list[str] = []

    def flaky(ctx: ActionContext, params: ProfileParams) -> Outcome:
        outcome = deactivate_profile(ctx, params)
        writes.append(outcome.detail)
        if len(writes) == 1:
            raise TransientError("database_unavailable", "connection lost after the write")
        return outcome

    spec = ActionSpec("flaky_deactivate", ProfileParams, flaky, "mutate", "deactivate, answer lost once",
                      precheck=precheck)
    playbooks = tmp_path / "playbooks.yml"
    playbooks.write_text(
        "playbooks:\n  GhostPosition:\n    firing:\n      - {name: deactivate, action: flaky_deactivate}\n"
    )
    cfg = config(tmp_path, postgres_url, bot_url, playbooks=str(playbooks))
    with harness(tmp_path, cfg, registry=default_registry([spec])) as h:
        seed(h)
        (run_id,) = h.post(notification(alert(ghost_labels()))).json["runs"]
        drain_until(h, lambda: h.run_state(run_id) != "active")
        step = h.step(run_id, "deactivate")
    assert writes == ["changed"]  # the action ran once; the retry ended at the precheck
    assert (step.state, step.outcome, step.retries) == ("succeeded", "unchanged", 1)


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_ledger_created_before_retries_existed_gets_the_new_columns_at_start(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    engine = make_ledger_engine(url)
    try:
        create_schema(engine)
        with engine.begin() as conn:
            for column in ("retries", "retry_at", "retry_deadline"):
                conn.execute(text(f"ALTER TABLE responder_steps DROP COLUMN {column}"))
        create_schema(engine)  # what the next start does
        columns = {column["name"] for column in inspect(engine).get_columns("responder_steps")}
    finally:
        engine.dispose()
    assert {"retries", "retry_at", "retry_deadline"} <= columns
