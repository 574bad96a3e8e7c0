"""The real service: ``python -m responder`` under gunicorn with several worker processes.

Start-up refuses bad input with one line and exit 2; metrics are right whichever worker answers; two
responder processes on one ledger execute each step once and share the budget; a SIGKILL between steps
is recovered after a restart with nothing repeated; the approvals CLI drives a running responder."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask, request
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, select

from common.db import make_engine
from responder.ledger.records import StepRecord
from responder.ledger.schema import runs, steps
from sources.botdb import create_schema
from tests.responder.harness import sections
from tests.responder.payloads import alert, ghost_labels, notification
from tests.responder.processes import child_env, responder_process, run_cli, wait_for
from tests.responder.servers import FakeBroker, SlackCapture
from tests.support.botstate import add_account, add_profile, profile_account
from tests.support.ports import free_port
from tests.support.wsgi import serve_wsgi


def sample(metrics: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(metrics):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    raise KeyError(name)


def ledger_steps(engine: Engine) -> list[StepRecord]:
    with engine.connect() as conn:
        return [StepRecord.from_row(r) for r in conn.execute(select(steps).order_by(steps.c.run_id, steps.c.position))]


def run_states(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(select(runs.c.state).order_by(runs.c.id)).scalars())


@pytest.fixture
def bot_db(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    create_schema(engine)
    add_account(engine, "acct-1", "key-acct-1")
    for profile in ("p-1", "p-2"):
        add_profile(engine, profile, "acct-1", datetime.now(UTC))
    yield engine
    engine.dispose()


def test_help_documents_every_option_and_bad_starts_exit_2_with_one_line(tmp_path: Path) -> None:
    good = sections(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite3'}")
    bad_playbooks = tmp_path / "bad-playbooks.yml"
    bad_playbooks.write_text("playbooks:\n  GhostPosition:\n    firing:\n      - {name: x, action: explode}\n")
    cases: dict[str, tuple[list[str], dict[str, str], str]] = {
        "missing file": (["--config", str(tmp_path / "nope.yml")], {}, "cannot read config file"),
        "bad mode": (_config(tmp_path, "mode", good, responder={"mode": "yolo"}), {}, "responder.mode"),
        "no token": (_config(tmp_path, "token", good), {"RESPONDER_WEBHOOK_TOKEN": ""}, "RESPONDER_WEBHOOK_TOKEN"),
        "blank token": (_config(tmp_path, "blank", good), {"RESPONDER_WEBHOOK_TOKEN": "   "},
                        "$RESPONDER_WEBHOOK_TOKEN is too weak"),
        "short operator token": (_config(tmp_path, "short", good), {"RESPONDER_OPERATOR_TOKEN": "x"},
                                 "$RESPONDER_OPERATOR_TOKEN is too weak: it has 1 characters, at least 20"),
        "ledger down": (_config(tmp_path, "ledger", good, responder={"ledger_url": "postgresql://nobody@127.0.0.1:1/x"}),
                        {}, "ledger database is unreachable"),
        "bad playbook": (_config(tmp_path, "book", good, responder={"playbooks": str(bad_playbooks)}), {},
                         "playbook GhostPosition/firing, step 1 (x): action 'explode' is not registered"),
        "insecure non-loopback": (
            [*_config(tmp_path, "open", good, responder={"listen": "0.0.0.0:1"}), "--insecure-local"],
            {},
            "only listens on loopback",
        ),
    }
    started = {name: run_cli(args, env) for name, (args, env, _) in cases.items()}
    helps = [run_cli(["--help"]), run_cli(["approvals", "approve", "--help"]),
             run_cli(["profiles", "enable", "--help"])]
    for name, process in started.items():
        _, err = process.communicate(timeout=60)
        lines = err.decode().strip().splitlines()
        assert process.returncode == 2 and len(lines) == 1, (name, err.decode())
        assert cases[name][2] in lines[0] and lines[0].startswith("responder: "), (name, lines)
    texts = [p.communicate(timeout=60)[0].decode() for p in helps]
    for option in ("--config", "--insecure-local", "--check", "--log-level", "approvals", "profiles",
                   "RESPONDER_WEBHOOK_TOKEN", "RESPONDER_OPERATOR_TOKEN", "SLACK_WEBHOOK_URL", "exit status"):
        assert option in texts[0], option
    for option in ("STEP_ID", "--by", "--reason", "--url"):
        assert option in texts[1], option
    assert "PROFILE_ID" in texts[2] and "--by" in texts[2]


def _config(tmp_path: Path, name: str, base: dict[str, Any], **overrides: Any) -> list[str]:
    from tests.support.simulator import merge, write_config

    return ["--config", str(write_config(tmp_path / f"{name}.yml", merge(base, overrides)))]


def test_several_workers_one_truth_metrics_and_chunked_limits(tmp_path: Path, db_url: str, bot_db: Engine) -> None:
    config = sections(tmp_path, db_url, responder={"workers": 3, "threads": 2, "max_body_bytes": 4096})
    with responder_process(tmp_path, config) as rp:
        session = requests.Session()
        started = time.monotonic()
        for n in range(30):
            body = notification(alert({"alertname": "Unrouted", "n": str(n % 10)}))
            assert session.post(f"{rp.url}/alerts", json=body, timeout=10,
                                headers={"Authorization": "Bearer " + child_env()["RESPONDER_WEBHOOK_TOKEN"]}
                                ).status_code == 200
        elapsed = time.monotonic() - started
        assert rp.post(notification(alert(ghost_labels())), token="wrong").status_code == 401
        chunks = (b"x" * 1024 for _ in range(8))
        oversized = requests.post(f"{rp.url}/alerts", data=chunks, timeout=10, headers={
            "Authorization": "Bearer " + child_env()["RESPONDER_WEBHOOK_TOKEN"], "Content-Type": "application/json"})
        assert oversized.status_code == 413
        scrapes = [requests.get(f"{rp.url}/metrics", timeout=10).text for _ in range(6)]
        for metrics in scrapes:
            assert sample(metrics, "tradingbot_responder_notifications_total", outcome="accepted") == 30
            assert sample(metrics, "tradingbot_responder_alerts_total", status="firing", new="true") == 10
            assert sample(metrics, "tradingbot_responder_alerts_total", status="firing", new="false") == 20
            assert sample(metrics, "tradingbot_responder_notifications_total", outcome="unauthorized") == 1
            assert sample(metrics, "tradingbot_responder_notifications_total", outcome="too_large") == 1
            assert sample(metrics, "tradingbot_responder_mode", mode="live") == 1
        assert elapsed < 15, f"30 deliveries took {elapsed:.1f} s"
        log = rp.log()
    assert WEBHOOK_SECRET_NOT_IN(log)


def WEBHOOK_SECRET_NOT_IN(log: str) -> bool:
    secrets = child_env()
    return all(secrets[name] not in log for name in ("RESPONDER_WEBHOOK_TOKEN", "RESPONDER_OPERATOR_TOKEN"))


@pytest.fixture
def side_effects() -> Iterator[dict[str, Any]]:
    """A Slack capture, a fake broker and a fake bot admin hook, each over real HTTP."""
    slack, broker, hooks = SlackCapture(), FakeBroker(), []
    bot = Flask("fake-bot")

    @bot.post("/admin/reconcile")
    def reconcile() -> tuple[str, int]:
        hooks.append(request.headers.get("Authorization", ""))
        return "{}", 200

    with serve_wsgi(slack.app()) as slack_url, serve_wsgi(broker.app()) as broker_url, serve_wsgi(bot) as bot_url:
        yield {"slack": slack, "slack_url": f"{slack_url}/hook", "broker": broker, "broker_url": broker_url,
               "hooks": hooks, "bot_url": bot_url}


def _stack_config(tmp_path: Path, db_url: str, fx: dict[str, Any], **responder: Any) -> dict[str, Any]:
    return sections(
        tmp_path, db_url,
        broker={"base_url": fx["broker_url"]},
        bot={"base_url": fx["bot_url"], "reconcile_url": f"{fx['bot_url']}/admin/reconcile"},
        responder={"workers": 2, "threads": 2, "max_close_notional": 1000, **responder},
    )


def test_two_responder_processes_on_one_ledger_execute_once_and_share_the_budget(
    tmp_path: Path, db_url: str, bot_db: Engine, side_effects: dict[str, Any]
) -> None:
    fx = side_effects
    env = {"SLACK_WEBHOOK_URL": fx["slack_url"]}
    first = _stack_config(tmp_path, db_url, fx, budget={"max_deactivations": 1, "window_seconds": 600})
    second = {**first, "responder": {**first["responder"], "listen": f"127.0.0.1:{free_port()}"}}
    with responder_process(tmp_path, first, env, "a") as a, responder_process(tmp_path, second, env, "b") as b:
        bodies = [notification(alert(ghost_labels("p-1"))), notification(alert(ghost_labels("p-2", symbol="MSFT")))]
        barrier = threading.Barrier(4)

        def deliver(target: Any, body: dict[str, Any]) -> None:
            barrier.wait(10)
            for _ in range(10):
                assert target.post(body).status_code == 200

        threads = [threading.Thread(target=deliver, args=(t, body)) for t in (a, b) for body in bodies]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        ledger = make_engine(db_url)
        try:
            wait_for(lambda: sorted(s.state for s in ledger_steps(ledger) if s.name == "deactivate")
                     == ["awaiting_approval", "succeeded"], what="one deactivation and one parked")
            wait_for(lambda: len(fx["slack"].messages) >= 2, what="notifications")
            time.sleep(1.0)  # anything duplicated would show up now
            done = ledger_steps(ledger)
        finally:
            ledger.dispose()
    deactivations = [s for s in done if s.name == "deactivate"]
    parked = next(s for s in deactivations if s.state == "awaiting_approval")
    assert parked.approval_reason == "budget_exhausted"
    statuses = sorted(profile_account(bot_db, p)[1] for p in ("p-1", "p-2"))  # type: ignore[index]
    assert statuses == ["active", "inactive"]
    assert all(s.attempts <= 1 for s in done), [(s.name, s.attempts) for s in done]
    # the deactivated profile's run told people; the parked one waits at its deactivation, announced once
    assert len([m for m in fx["slack"].messages if "*Incident*: GhostPosition" in m]) == 1
    assert len([m for m in fx["slack"].messages if "budget exhausted" in m]) == 1
    assert len(fx["slack"].messages) == 2


def test_a_sigkill_between_steps_resumes_after_restart_with_nothing_repeated(
    tmp_path: Path, db_url: str, bot_db: Engine, side_effects: dict[str, Any]
) -> None:
    fx = side_effects
    fx["broker"].positions[("key-acct-1", "AAPL")] = (50.0, 100.0)  # notional 5000: closing needs approval
    env = {"SLACK_WEBHOOK_URL": fx["slack_url"]}
    config = _stack_config(tmp_path, db_url, fx)
    ledger = make_engine(db_url)
    try:
        with responder_process(tmp_path, config, env, "before") as rp:
            (run_id,) = rp.post(notification(alert(ghost_labels()))).json()["runs"]
            reconcile = wait_for(lambda: next((s for s in ledger_steps(ledger)
                                               if s.name == "reconcile" and s.state == "awaiting_approval"), None),
                                 what="reconcile awaiting approval")
            rp.kill9()
        assert profile_account(bot_db, "p-1") == ("acct-1", "inactive")
        with responder_process(tmp_path, config, env, "after") as rp:
            approve = run_cli(["approvals", "approve", str(reconcile.id), "--by", "alice", "--url", rp.url])
            _, err = approve.communicate(timeout=60)
            assert approve.returncode == 0, err.decode()
            close = wait_for(lambda: next((s for s in ledger_steps(ledger)
                                           if s.name == "close" and s.state == "awaiting_approval"), None),
                             what="close awaiting approval")
            listing = run_cli(["approvals", "list", "--url", rp.url])
            assert f"{close.id:>6}  policy" in listing.communicate(timeout=60)[0].decode()
            first = rp.operator("POST", f"/approvals/{close.id}", {"decision": "approve", "by": "bob"})
            assert first.status_code == 202  # closing is two-person
            assert rp.operator("POST", f"/approvals/{close.id}", {"decision": "approve", "by": "carol"}).ok
            wait_for(lambda: run_states(ledger) == ["succeeded"], what="the run to finish")
        done = ledger_steps(ledger)
    finally:
        ledger.dispose()
    # approval steps are claimed twice (parked, then executed once approved); nothing ran twice
    assert [(s.name, s.state, s.attempts) for s in done] == [
        ("evidence", "succeeded", 1), ("deactivate", "succeeded", 1), ("notify", "succeeded", 1),
        ("reconcile", "succeeded", 2), ("close", "succeeded", 2),
    ]
    assert [s.decided_by for s in done[3:]] == ["alice", "bob, carol"]
    assert len(fx["slack"].messages) == 1 and len(fx["hooks"]) == 1
    assert fx["hooks"][0] == "Bearer " + child_env()["SUPABASE_SERVICE_ROLE_KEY"]
    assert ("key-acct-1", "AAPL") not in fx["broker"].positions
    assert run_id == done[0].run_id
