"""The bot's API: health, token checks on /api/* and /ws, access-log lines, trades, admin hooks, order sync."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest
import requests
from sqlalchemy import select

from sources.accesslog import parse_line, probe_user_agent
from sources.botapi import INVALID_PROBE_ORDER, BotApi
from sources.botdb import WORKING_STATUSES, orders
from sources.tokens import decode_claims
from tests.simulator.helpers import AccessLog, bearer, bot_db, broker, probe_token, wait_for
from tests.support.simulator import RunningSimulator


def _token(sim: RunningSimulator, **changes: object) -> str:
    """A token like the Supabase stand-in's, with some claims changed (or signed with another key)."""
    now = datetime.now(UTC)
    claims: dict[str, object] = {"iss": f"{sim.supabase_url}/auth/v1", "aud": "authenticated", "sub": "user-1",
                                 "role": "authenticated", "iat": int(now.timestamp()),
                                 "exp": int((now + timedelta(hours=1)).timestamp()), "session_id": "s-1"}
    key = str(changes.pop("key", sim.env["SUPABASE_JWT_SECRET"]))
    claims.update(changes)
    return jwt.encode(claims, key, algorithm="HS256")


def test_health_endpoints(sim: RunningSimulator, session: requests.Session) -> None:
    health = session.get(f"{sim.bot_url}/health", timeout=5).json()
    checks = {name: "ok" for name in ("broker", "database", "order_sync", "stale_backlog", "supabase")}
    assert health == {"status": "ok", "stale_backlog": 0, "quarantined": 0, "degraded": [], "checks": checks}
    assert session.get(f"{sim.bot_url}/health/live", timeout=5).status_code == 200
    ready = session.get(f"{sim.bot_url}/health/ready", timeout=5)
    assert ready.status_code == 200 and ready.json()["degraded"] == []


@pytest.mark.parametrize(
    "changes, status, reason",
    [
        ({}, 200, "ok"),
        ({"exp": 1_000_000}, 401, "token_expired"),
        ({"aud": "anon"}, 403, "wrong_audience"),
        ({"key": "some-other-secret-that-is-long-enough-for-hs256"}, 403, "bad_signature"),
        ({"iss": "https://elsewhere.supabase.co/auth/v1"}, 403, "wrong_issuer"),
    ],
)
def test_api_status_checks_the_token_and_logs_it(sim: RunningSimulator, session: requests.Session,
                                                 changes: dict[str, object], status: int, reason: str) -> None:
    log = AccessLog(sim.access_log)
    token = _token(sim, **changes)
    user_agent = probe_user_agent("0123456789abcdef")
    answer = BotApi(sim.bot_url, session, 5, user_agent).get("/api/status", token)
    assert answer.status == status
    (line,) = log.lines()
    event = parse_line(json.dumps(line))
    assert (event.channel, event.path, event.status, event.reason) == ("api", "/api/status", status, reason)
    assert event.user_agent == user_agent, "BotApi sends the probe's User-Agent and the bot logs it"
    if status == 200:
        assert "token" not in line and answer.body["active_profiles"] == 6
    else:
        assert line["token"] == token and event.is_auth_failure
        claims = decode_claims(line["token"])
        assert claims is not None and claims.subject == "user-1"


def test_missing_token_is_401_without_a_token_in_the_log(sim: RunningSimulator, session: requests.Session) -> None:
    log = AccessLog(sim.access_log)
    assert BotApi(sim.bot_url, session, 5).get("/api/status").status == 401
    (line,) = log.lines()
    assert (line["status"], line["reason"], line["channel"]) == (401, "missing_token", "api")
    assert "token" not in line


def test_probe_token_from_supabase_is_accepted(sim: RunningSimulator, session: requests.Session) -> None:
    answer = BotApi(sim.bot_url, session, 5).get("/api/status", probe_token(sim, session))
    assert answer.status == 200 and answer.body["status"] == "ok"


def test_websocket_handshake_is_checked_and_logged(sim: RunningSimulator, session: requests.Session) -> None:
    log = AccessLog(sim.access_log)
    good = session.get(f"{sim.bot_url}/ws", params={"token": _token(sim)}, timeout=5)
    by_header = session.get(f"{sim.bot_url}/ws", headers=bearer(_token(sim)), timeout=5)
    expired = _token(sim, exp=1_000_000)
    bad = session.get(f"{sim.bot_url}/ws", params={"token": expired}, timeout=5)
    assert good.json() == {"accepted": True} and by_header.status_code == 200 and bad.status_code == 401
    lines = log.lines()
    assert [(line["channel"], line["status"]) for line in lines] == [("websocket", 200)] * 2 + [("websocket", 401)]
    assert all(line["user_agent"].startswith("python-requests/") for line in lines)
    assert lines[2]["token"] == expired and lines[2]["path"] == "/ws"
    assert all("token" not in line for line in lines[:2])


def test_trade_requires_auth_then_validates(sim: RunningSimulator, session: requests.Session) -> None:
    api = BotApi(sim.bot_url, session, 5)
    assert api.trade_unauthenticated().status == 401
    token = probe_token(sim, session)
    invalid = api.post("/api/trade", INVALID_PROBE_ORDER, token)
    assert invalid.status == 422 and invalid.body["error"] == "invalid_order"
    assert any(problem.startswith("symbol") for problem in invalid.body["problems"])


def test_valid_trade_is_placed_at_the_broker_and_recorded(sim: RunningSimulator, session: requests.Session) -> None:
    order = {"symbol": "SPY", "qty": "2", "side": "buy", "type": "market", "time_in_force": "day",
             "profile_id": "p-2"}
    answer = BotApi(sim.bot_url, session, 5).post("/api/trade", order, probe_token(sim, session))
    assert answer.status == 200 and answer.body["order"]["status"] == "filled"
    placed = broker(sim, session, "acct-2").get_order_by_client_id(answer.body["order"]["client_order_id"])
    assert placed.status == "filled"
    assert broker(sim, session, "acct-2").get_position("SPY") is not None
    with bot_db(sim) as engine, engine.connect() as conn:
        row = conn.execute(select(orders).where(orders.c.id == answer.body["order"]["id"])).one()
    assert (row.profile_id, row.status, row.broker_order_id) == ("p-2", "filled", placed.id)


def test_admin_hooks_need_the_service_role_key(sim: RunningSimulator, session: requests.Session) -> None:
    for token in (None, sim.env["SUPABASE_ANON_KEY"], probe_token(sim, session)):
        assert session.post(f"{sim.bot_url}/admin/reconcile", headers=bearer(token), timeout=5).status_code == 401
    service = bearer(sim.env["SUPABASE_SERVICE_ROLE_KEY"])
    reconciled = session.post(f"{sim.bot_url}/admin/reconcile", headers=service, timeout=5)
    assert reconciled.status_code == 200 and reconciled.json()["changed"] == 0
    restarted = session.post(f"{sim.bot_url}/admin/restart", headers=service, timeout=5)
    assert restarted.status_code == 200 and restarted.json()["restarted"] is True


def test_order_sync_keeps_healthy_working_orders_fresh(sim: RunningSimulator) -> None:
    with bot_db(sim) as engine:
        def working_updates() -> dict[str, datetime]:
            with engine.connect() as conn:
                rows = conn.execute(select(orders.c.id, orders.c.updated_at)
                                    .where(orders.c.status.in_(WORKING_STATUSES))).all()
            return {row.id: row.updated_at for row in rows}

        def all_touched() -> dict[str, datetime] | None:
            now = working_updates()
            return now if set(now) == set(before) and all(now[k] > v for k, v in before.items()) else None

        before = working_updates()
        assert len(before) == 6
        wait_for(all_touched, timeout=10)


def test_unknown_api_paths_are_logged_too(sim: RunningSimulator, session: requests.Session) -> None:
    log = AccessLog(sim.access_log)
    assert session.get(f"{sim.bot_url}/api/nope", timeout=5).status_code == 404
    assert session.delete(f"{sim.bot_url}/api/status", timeout=5).status_code == 405
    assert session.get(f"{sim.bot_url}/not-api", timeout=5).status_code == 404
    assert [(line["path"], line["status"]) for line in log.lines()] == [("/api/nope", 404), ("/api/status", 405)]
