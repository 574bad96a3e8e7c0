"""Each default playbook end to end, with the simulator as broker, bot and Supabase (SQLite and PostgreSQL).

The responder runs in-process (its HTTP app and executor) against the simulator's real HTTP services and
database; alerts are posted the way Alertmanager would post them once the exporters saw the fault.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from responder.ledger.schema import rca_drafts
from sources.accesslog import read_recent
from sources.botdb import orders
from tests.responder.harness import SECRETS, Harness, harness, sections
from tests.responder.payloads import alert, ghost_labels, notification
from tests.responder.servers import SlackCapture
from tests.support.botstate import profile_account
from tests.support.simulator import RunningSimulator, merge, start_simulator

pytestmark = pytest.mark.slow


@dataclass
class Stack:
    sim: RunningSimulator
    responder: Harness
    slack: SlackCapture

    def resolve(self, labels: dict[str, str]) -> int:
        run_ids: list[int] = self.responder.post(notification(alert(labels, "resolved"))).json["runs"]
        self.responder.drain()
        return run_ids[0]

    def fire(self, labels: dict[str, str]) -> int:
        answer = self.responder.post(notification(alert(labels)))
        assert answer.status_code == 200, answer.json
        self.responder.drain()
        run_id: int = answer.json["runs"][0]
        return run_id

    def approve(self, step_id: int, by: str = "oncall") -> None:
        answer = self.responder.operator("POST", f"/approvals/{step_id}", {"decision": "approve", "by": by})
        assert answer.status_code == 200, answer.json
        self.responder.drain()

    def order_statuses(self, ids: list[str]) -> dict[str, str]:
        with self.responder.bot.connect() as conn:
            return dict(conn.execute(select(orders.c.id, orders.c.status).where(orders.c.id.in_(ids))).all())


@pytest.fixture
def stack(tmp_path: Path, db_url: str, slack: tuple[SlackCapture, str]) -> Iterator[Stack]:
    with start_simulator(tmp_path, db_url) as sim:
        config = merge(
            sections(tmp_path, db_url),
            {key: sim.sections[key] for key in ("bot_db", "broker", "bot", "supabase")},
        )
        config = merge(config, {"broker": {"read_timeout_seconds": 0.5}, "responder": {"max_close_notional": 1000}})
        env = {k: v for k, v in sim.env.items() if not k.startswith("RESPONDER_")}
        with harness(tmp_path, config, env={**env, "SLACK_WEBHOOK_URL": slack[1]}) as responder:
            yield Stack(sim, responder, slack[0])


CAUSES = [("exchange-timeout", "p-1", "exchange timeout"), ("rejected-exit", "p-2", "rejected exit"),
          ("stale-local-state", "p-3", "stale local state")]


def test_ghost_position_playbook_for_each_cause_through_resolve_and_rca(stack: Stack) -> None:
    h = stack.responder
    for cause, profile, category in CAUSES:
        ghost = stack.sim.inject("ghost", profile=profile, cause=cause)
        labels = ghost_labels(profile, ghost["account"], ghost["symbol"])
        run_id = stack.fire(labels)
        evidence = h.step(run_id, "evidence").output
        assert evidence["suggested_category"] == category, (cause, evidence["category_reason"])
        assert evidence["broker_position"]["qty"] == pytest.approx(ghost["broker_qty"])
        assert {"id", "client_order_id", "created_at", "profile", "symbol", "side", "qty"} <= set(
            evidence["bot_orders"][0])
        assert profile_account(h.bot, profile) == (ghost["account"], "inactive")
        before = {"profile": profile, "status": "active", "entries": "enabled"}
        assert h.step(run_id, "deactivate").before_state == before
        assert h.step(run_id, "notify").state == "succeeded"
        assert h.step(run_id, "reconcile").state == "awaiting_approval"
        if cause == "exchange-timeout":
            stack.approve(h.step(run_id, "reconcile").id)
            reconciled = h.step(run_id, "reconcile")
            assert reconciled.output["http_status"] == 200
            assert any(m["symbol"] == ghost["symbol"] for m in reconciled.before_state["parity"]["mismatches"])
            close = h.step(run_id, "close")  # the notional is above max_close_notional: a person decides
            assert close.state == "awaiting_approval", close
        resolved = stack.resolve(labels)
        rca = h.step(resolved, "rca")
        assert rca.output["category"] == category
        markdown = Path(rca.output["path"]).read_text(encoding="utf-8")
        assert f"**{category}**" in markdown and "| time | event |" in markdown and "deactivate" in markdown
        assert f"Profile `{profile}` is **inactive**" in markdown
        assert profile_account(h.bot, profile) == (ghost["account"], "inactive")  # it stays inactive
    with h.ledger.connect() as conn:
        assert sorted(conn.execute(select(rca_drafts.c.category)).scalars()) == sorted(c for _, _, c in CAUSES)
    incidents = [m for m in stack.slack.messages if "*Incident*: GhostPosition" in m]
    assert len(incidents) == 6 and sum("(RESOLVED)" in m for m in incidents) == 3


def test_stale_orders_quarantine_old_missing_orders_and_never_on_broker_errors(stack: Stack) -> None:
    h = stack.responder
    stale = stack.sim.inject("stale-orders", profile="p-1", count=6, missing_at_broker=4, older_than_24h=2,
                             age_seconds=900)
    quarantined = [o["id"] for o in stale["orders"][:2]]
    run_id = stack.fire({"alertname": "StalePendingOrders", "severity": "sev2", "profile": "p-1"})
    check = h.step(run_id, "check").output
    assert h.step(run_id, "check").state == "succeeded", h.step(run_id, "check").error
    assert check["counts"] == {"found": 2, "missing": 4, "unavailable": 0}, h.step(run_id, "check").error
    assert sorted(h.step(run_id, "quarantine").output["quarantined"]) == sorted(quarantined)
    statuses = stack.order_statuses(stale["order_ids"])
    assert sorted(i for i, s in statuses.items() if s == "unknown") == sorted(quarantined)
    cancel = h.step(run_id, "cancel")
    assert cancel.state == "awaiting_approval"
    stack.approve(cancel.id)
    assert sorted(h.step(run_id, "cancel").output["cancel_requested"]) == sorted(o["id"] for o in stale["orders"][4:])

    for mode in ("5xx", "timeout", "429"):
        stack.sim.reset()
        lost = stack.sim.inject("stale-orders", profile="p-2", count=2, missing_at_broker=2, older_than_24h=2)
        stack.sim.inject("broker-outage", mode=mode, delay_seconds=1.0)
        run_id = stack.fire({"alertname": "StalePendingOrders", "severity": "sev2", "profile": "p-2",
                             "mode": mode})
        assert h.step(run_id, "check").output["counts"]["unavailable"] == 2, mode
        assert h.step(run_id, "quarantine").outcome == "not_needed", mode
        assert set(stack.order_statuses(lost["order_ids"]).values()) == {"pending_new"}, mode


def test_stale_backlog_escalation_checks_every_profile(stack: Stack) -> None:
    stack.sim.inject("stale-orders", profile="p-1,p-2,p-3", count=6)
    run_id = stack.fire({"alertname": "StaleBacklogEscalation", "severity": "sev1"})
    check = stack.responder.step(run_id, "check").output
    assert check["scope"] == "all" and {o["profile"] for o in check["orders"]} >= {"p-1", "p-2", "p-3"}


def wait_for_failures(stack: Stack, since: datetime, minimum: int = 5, timeout: float = 15.0) -> None:
    """Let the simulator's client traffic produce rejected requests in the access log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = read_recent(stack.sim.access_log, 256_000).events
        if sum(e.is_auth_failure and e.ts is not None and e.ts >= since for e in events) >= minimum:
            return
        time.sleep(0.2)
    raise TimeoutError("no auth failures in the access log")


AUTH_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("auth-failures", {"scope": "all", "reason": "bad-signature"}, "config"),
    ("supabase-outage", {"mode": "down"}, "infra"),
    ("supabase-outage", {"mode": "issuance"}, "infra"),
    ("auth-failures", {"scope": "clients", "reason": "wrong-audience"}, "app regression"),
]


def test_auth_playbook_categorises_config_infra_and_app_regression(stack: Stack) -> None:
    h = stack.responder
    for number, (kind, options, category) in enumerate(AUTH_CASES):
        stack.sim.reset()
        injected = datetime.now(UTC)
        stack.sim.inject(kind, **options)
        if kind == "auth-failures":
            wait_for_failures(stack, injected)
        alertname = "AuthFailureSpike" if kind == "auth-failures" else "TradingControlEndpointsDown"
        labels = {"alertname": alertname, "severity": "sev2", "case": str(number)}
        run_id = stack.fire(labels)
        diagnosis = h.step(run_id, "diagnosis").output
        assert diagnosis["category"] == category, (kind, options, diagnosis)
        if kind == "auth-failures":
            claims = h.step(run_id, "evidence").output["claims"]
            assert claims and all(c["fingerprint"].startswith("sha256:") for c in claims)
            if options["reason"] == "wrong-audience":
                assert any(c["aud"] != "authenticated" for c in claims)
        stored = json.dumps([s.as_dict() for s in h.steps(run_id)])
        assert "eyJ" not in stored  # claims and fingerprints only, never a token
        assert h.step(run_id, "notify").state == "succeeded"
        restart = h.step(run_id, "restart")
        assert restart.state == "awaiting_approval"
        if options.get("scope") == "all":
            stack.approve(restart.id)
            restarted = h.step(run_id, "restart")
            assert restarted.output["response"]["auth_key_reloaded"] is True
            assert restarted.after_state["health_live"] == 200
        rca = h.step(stack.resolve(labels), "rca")
        diagnosis = h.step(run_id, "diagnosis").output
        assert (rca.output["category"], rca.output["reason"]) == (category, diagnosis["reason"]) and diagnosis["reason"]
    assert all(s["key"] not in json.dumps([x.as_dict() for x in h.steps()]) for s in [
        {"key": stack.sim.env["SUPABASE_SERVICE_ROLE_KEY"]}, {"key": stack.sim.env["PROBE_USER_PASSWORD"]},
        {"key": SECRETS["RESPONDER_WEBHOOK_TOKEN"]}])
