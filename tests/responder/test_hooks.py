"""The bot's restart/reconcile hooks as a command or an HTTP call: run once when approved, recorded like any
action (before/after with the degraded fields, exit code or HTTP status, truncated output), transient and
definite failures told apart, secrets never recorded, and everything validated when the responder starts."""

from __future__ import annotations

import json
import stat
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, Response, jsonify, request

from common.config import ConfigError
from responder.settings import load_settings
from tests.responder.harness import SECRETS, Harness, harness, sections
from tests.responder.payloads import alert, notification
from tests.support.botstate import add_account, add_profile
from tests.support.simulator import start_simulator, write_config
from tests.support.wsgi import serve_wsgi

SPIKE = {"alertname": "AuthFailureSpike", "severity": "sev2", "channel": "api"}
READY = {"status": "ready", "checks": {"order_sync": "degraded", "database": "ok"}}
HEALTH = {"degraded_fields": [{"path": "checks.order_sync", "healthy": ["ok"]},
                              {"path": "checks.database", "healthy": ["ok"]}]}


@dataclass
class FakeBot:
    """/health/live, /health/ready (ready, but order sync degraded) and an admin hook that answers `status`."""

    status: int = 200
    calls: list[dict[str, Any]] = field(default_factory=list)

    def app(self) -> Flask:
        app = Flask("fake-bot")

        @app.get("/health/live")
        def live() -> Response:
            return jsonify({"status": "live"})

        @app.get("/health/ready")
        def ready() -> Response:
            return jsonify(READY)

        @app.post("/admin/<hook>")
        def admin(hook: str) -> tuple[Response, int]:
            self.calls.append({"hook": hook, "body": request.get_json(), "key": request.headers.get("X-Api-Key")})
            return jsonify({"restarted": hook == "restart", "token": "Bearer eyJhbGciOiJIUzI1NiJ9.e30.x"}), self.status

        return app


@pytest.fixture
def bot() -> Iterator[tuple[FakeBot, str]]:
    fake = FakeBot()
    with serve_wsgi(fake.app()) as url:
        yield fake, url


def script(tmp_path: Path, body: str) -> str:
    path = tmp_path / "hook.sh"
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def approve_restart(h: Harness) -> tuple[Any, str]:
    """Fire AuthFailureSpike, approve its restart; the step after it ran and what the approver was shown."""
    run_id = h.post(notification(alert(SPIKE))).json["runs"][0]
    h.drain()
    restart = h.step(run_id, "restart")
    assert restart.state == "awaiting_approval"
    shown = next(a["summary"] for a in h.operator("GET", "/approvals").json["approvals"] if a["step_id"] == restart.id)
    assert h.operator("POST", f"/approvals/{restart.id}", {"decision": "approve", "by": "oncall"}).status_code == 200
    h.drain()
    return h.step(run_id, "restart"), shown


# A transient failure is retried (tests/responder/test_retries.py); here the retry time is 0, so it fails at once
# and the step shows what the one attempt did.
NO_RETRY = {"retry": {"max_seconds": 0}}


def bot_section(url: str, **hooks: Any) -> dict[str, Any]:
    return {"base_url": url, "health": HEALTH, "hooks": hooks}


def test_restart_as_a_command(tmp_path: Path, bot: tuple[FakeBot, str]) -> None:
    seen = tmp_path / "seen"
    command = script(tmp_path, f'echo "restarting for $TRADINGBOT_REASON ($TRADINGBOT_HOOK) $1"\n'
                               f'env > {seen}\necho "Authorization: Bearer s3cr3t-t0ken"\n')
    hook = {"command": [command, "tradingbot"], "timeout_seconds": 5, "pass_env": ["DESK"]}
    config = sections(tmp_path, f"sqlite:///{tmp_path}/db.sqlite3", bot=bot_section(bot[1], restart=hook))
    with harness(tmp_path, config, env={"DESK": "eu", "SUPABASE_SERVICE_ROLE_KEY": "hidden"}) as h:
        restart, shown = approve_restart(h)
    assert restart.state == "succeeded", restart.error
    assert shown == (f"restart the bot: runs {command} tradingbot (now /health/live 200, /health/ready "
                                  "200, degraded fields: checks.order_sync)")  # what the approver saw
    output = restart.output
    assert (output["kind"], output["exit_code"], output["argv"]) == ("command", 0, [command, "tradingbot"])
    assert output["output"].startswith("restarting for AuthFailureSpike (restart) tradingbot")
    assert "s3cr3t" not in output["output"]  # bearer tokens are masked
    env = dict(line.split("=", 1) for line in seen.read_text().splitlines() if "=" in line)
    assert env["DESK"] == "eu" and "SUPABASE_SERVICE_ROLE_KEY" not in env  # only what pass_env names
    assert restart.before_state["readiness"]["degraded_fields"] == ["checks.order_sync"]
    assert restart.after_state["health_live"] == 200
    fields = {"checks.order_sync": '"degraded"', "checks.database": '"ok"'}
    assert restart.after_state["readiness"] == {"http_status": 200, "ready": True,
                                                "degraded_fields": ["checks.order_sync"], "fields": fields}


@pytest.mark.parametrize(
    ("body", "failure", "error"),
    [
        ("echo 'unit tradingbot.service not found' >&2\nexit 5\n", "definite", "restart command exited with 5"),
        ("yes 'x' | head -c 100000\nexit 1\n", "definite", "restart command exited with 1"),
        ("(sleep 3; touch {marker}) &\nsleep 30\n", "transient", "restart command timed out after 1 s (killed)"),
    ],
    ids=["non-zero", "long-output", "timeout"],
)
def test_a_failing_command_is_recorded_with_its_kind(
    tmp_path: Path, bot: tuple[FakeBot, str], body: str, failure: str, error: str
) -> None:
    marker = tmp_path / "late"
    hook = {"command": [script(tmp_path, body.format(marker=marker))], "timeout_seconds": 1}
    config = sections(tmp_path, f"sqlite:///{tmp_path}/db.sqlite3", bot=bot_section(bot[1], restart=hook),
                      responder=NO_RETRY)
    started = time.monotonic()
    with harness(tmp_path, config) as h:
        restart, _ = approve_restart(h)
    assert time.monotonic() - started < 15
    assert (restart.state, restart.output["failure"]) == ("failed", failure) and error in (restart.error or "")
    assert restart.outcome == ("retries_exhausted" if failure == "transient" else "error")
    assert len(restart.output["output"]) <= 2005
    if failure == "definite":
        assert restart.output["exit_code"] in (1, 5)
    else:
        assert "exit_code" not in restart.output
        time.sleep(3)
        assert not marker.exists()  # the whole process group was killed, not only the shell


@pytest.mark.parametrize(
    ("status", "failure"), [(403, "definite"), (503, "transient"), (429, "transient"), (None, "transient")]
)
def test_an_http_hook_that_fails(tmp_path: Path, bot: tuple[FakeBot, str], status: int | None, failure: str) -> None:
    fake, url = bot
    fake.status = status or 200
    hook_url = f"{url}/admin/restart" if status else "http://127.0.0.1:9/admin/restart"
    hook = {"url": hook_url, "secret_headers": {"X-Api-Key": "BOT_ADMIN_KEY"}, "timeout_seconds": 2}
    config = sections(tmp_path, f"sqlite:///{tmp_path}/db.sqlite3", bot=bot_section(url, restart=hook),
                      responder=NO_RETRY)
    with harness(tmp_path, config, env={"BOT_ADMIN_KEY": "k-123456"}) as h:
        restart, _ = approve_restart(h)
        steps = json.dumps([s.as_dict() for s in h.steps()])
    assert (restart.state, restart.output["failure"]) == ("failed", failure)
    assert restart.output.get("http_status") == status
    assert "k-123456" not in steps and "eyJhbGciOiJIUzI1NiJ9.e30" not in steps
    if status:
        assert fake.calls == [{"hook": "restart", "body": {"reason": "AuthFailureSpike"}, "key": "k-123456"}]


def test_reconcile_as_an_http_hook_sends_the_alert_s_context(tmp_path: Path, bot: tuple[FakeBot, str]) -> None:
    fake, url = bot
    hook = {"url": f"{url}/admin/reconcile", "method": "POST", "headers": {"X-Api-Key": "static"}}
    config = sections(tmp_path, f"sqlite:///{tmp_path}/db.sqlite3", bot=bot_section(url, reconcile=hook))
    labels = {"alertname": "GhostPosition", "severity": "sev1", "account": "acct-9", "symbol": "AAPL", "profile": "p-9"}
    with harness(tmp_path, config) as h:
        add_account(h.bot, "acct-9", "key-acct-9")
        add_profile(h.bot, "p-9", "acct-9", datetime.now(UTC))
        run_id = h.post(notification(alert(labels))).json["runs"][0]
        h.drain()
        step = h.step(run_id, "reconcile")
        h.operator("POST", f"/approvals/{step.id}", {"decision": "approve", "by": "oncall"})
        h.drain()
        reconcile = h.step(run_id, "reconcile")
    assert reconcile.state == "succeeded" and reconcile.output["http_status"] == 200
    assert fake.calls == [{"hook": "reconcile", "key": "static", "body": {
        "account": "acct-9", "symbol": "AAPL", "profile": "p-9", "alert": "GhostPosition"}}]


def test_a_command_hook_against_the_simulated_bot(tmp_path: Path) -> None:
    """The simulator's own command hook restarts its bot through the admin endpoint, like a desk's script."""
    db_url = f"sqlite:///{tmp_path}/bot.sqlite3"
    with start_simulator(tmp_path, db_url) as sim:
        sim.inject("auth-failures", scope="all", reason="bad-signature")
        bot = {**sim.sections["bot"], "restart_url": None, "hooks": {"restart": {
            "command": [sys.executable, "-m", "simulator.bot.admin_hook", "restart", "--bot-url", sim.bot_url],
            "pass_env": ["SUPABASE_SERVICE_ROLE_KEY"], "timeout_seconds": 20}}}
        config = sections(tmp_path, db_url, bot=bot, supabase=sim.sections["supabase"])
        env = {k: v for k, v in sim.env.items() if not k.startswith("RESPONDER_")}
        with harness(tmp_path, config, env=env) as h:
            restart, _ = approve_restart(h)
        assert restart.state == "succeeded", restart.output
        assert restart.output["output"].startswith("HTTP 200")
        assert '"auth_key_reloaded":true' in restart.output["output"]
        assert "auth-failures" not in sim.faults()["active"]


@pytest.mark.parametrize(
    ("hooks", "env", "message"),
    [
        ({"restart": {"url": "http://127.0.0.1:9/r", "bearer_token_env": "BOT_TOKEN"}}, {},
         "bot.hooks.restart: $BOT_TOKEN (or $BOT_TOKEN_FILE) is not set (the hook sends it)"),
        ({"restart": {"command": ["no-such-program-here", "restart"]}}, {},
         "bot.hooks.restart.command: 'no-such-program-here' is not an executable program on PATH"),
    ],
)
def test_hooks_are_checked_when_the_responder_starts(
    tmp_path: Path, hooks: dict[str, Any], env: dict[str, str], message: str
) -> None:
    config = sections(tmp_path, f"sqlite:///{tmp_path}/db.sqlite3", bot={"hooks": hooks})
    path = write_config(tmp_path / "responder.yml", config)
    with pytest.raises(ConfigError, match=message.replace("$", r"\$").replace("(", r"\(").replace(")", r"\)")):
        load_settings(path, {**SECRETS, **env})


def test_the_legacy_url_needs_the_service_role_key_at_start(tmp_path: Path) -> None:
    config = sections(tmp_path, f"sqlite:///{tmp_path}/db.sqlite3", bot={"restart_url": "http://127.0.0.1:9/r"})
    path = write_config(tmp_path / "responder.yml", config)
    env = {k: v for k, v in SECRETS.items() if k != "SUPABASE_SERVICE_ROLE_KEY"}
    with pytest.raises(ConfigError, match=r"bot\.hooks\.restart: \$SUPABASE_SERVICE_ROLE_KEY"):
        load_settings(path, env)
    assert load_settings(path, SECRETS).hooks["restart"].config.url == "http://127.0.0.1:9/r"
