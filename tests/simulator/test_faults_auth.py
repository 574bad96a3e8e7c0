"""Auth faults (client share, botched rotation, bypass), Supabase outages, degraded bot, insufficient funds."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from sources.accesslog import parse_line
from sources.botapi import INVALID_PROBE_ORDER, BotApi
from sources.supabase import SupabaseError
from sources.tokens import decode_claims
from tests.simulator.helpers import AccessLog, bearer, client_traffic, probe_token, supabase, wait_for_lines
from tests.support.simulator import RunningSimulator


def _traffic_lines(log: AccessLog, count: int, timeout: float = 20) -> list[dict[str, Any]]:
    return wait_for_lines(log, lambda lines: len(lines) >= count, timeout)[:count]


def test_client_auth_failures_hit_the_share_on_the_channel(sim: RunningSimulator) -> None:
    sim.inject("auth-failures", share=0.5, channel="api", reason="wrong-audience")
    log = AccessLog(sim.access_log)
    with client_traffic(sim, api=40, websocket=20):
        lines = _traffic_lines(log, 60)
    api = [line for line in lines if line["channel"] == "api"]
    websocket = [line for line in lines if line["channel"] == "websocket"]
    assert websocket and all(line["status"] == 200 for line in websocket)
    rejected = [line for line in api if line["status"] == 403]
    assert abs(len(rejected) - len(api) / 2) <= 1
    assert all(line["reason"] == "wrong_audience" and parse_line(_dumps(line)).is_auth_failure for line in rejected)
    claims = decode_claims(rejected[0]["token"])
    assert claims is not None and claims.audience == "anon" and claims.subject
    assert all("token" not in line for line in api if line["status"] == 200)


def _dumps(line: dict[str, Any]) -> str:
    return json.dumps(line)


def test_missing_token_trickle_on_the_websocket(sim: RunningSimulator) -> None:
    sim.inject("auth-failures", share=0.25, channel="websocket", reason="missing")
    log = AccessLog(sim.access_log)
    with client_traffic(sim, websocket=40):
        lines = _traffic_lines(log, 40)
    rejected = [line for line in lines if line["status"] == 401]
    assert all(line["reason"] == "missing_token" and "token" not in line for line in rejected)
    assert abs(len(rejected) - 10) <= 1


def test_botched_rotation_rejects_every_token_until_restart(sim: RunningSimulator, session: requests.Session) -> None:
    api = BotApi(sim.bot_url, session, 5)
    token = probe_token(sim, session)
    result = sim.inject("auth-failures", scope="all")
    assert result["options"]["scope"] == "all"
    fresh = probe_token(sim, session)
    assert api.get("/api/status", token).status == 403 and api.get("/api/status", fresh).status == 403
    assert session.get(f"{sim.bot_url}/ws", params={"token": fresh}, timeout=5).status_code == 403
    restart = session.post(f"{sim.bot_url}/admin/restart", headers=bearer(sim.env["SUPABASE_SERVICE_ROLE_KEY"]),
                           timeout=5)
    assert restart.json()["auth_key_reloaded"] is True
    assert api.get("/api/status", fresh).status == 200
    assert "auth-failures" not in sim.faults()["active"]


def test_auth_bypass_lets_the_invalid_probe_order_reach_validation(sim: RunningSimulator,
                                                                   session: requests.Session) -> None:
    api = BotApi(sim.bot_url, session, 5)
    assert api.trade_unauthenticated().status == 401
    sim.inject("auth-bypass")
    log = AccessLog(sim.access_log)
    answer = api.trade_unauthenticated()
    assert answer.status == 422 and answer.body["error"] == "invalid_order"
    assert [line["status"] for line in log.lines()] == [422]
    sim.reset()
    assert api.trade_unauthenticated().status == 401


def test_supabase_down_and_issuance_failure(sim: RunningSimulator, session: requests.Session) -> None:
    auth = supabase(sim, session)
    issued = probe_token(sim, session)
    sim.inject("supabase-outage", mode="down")
    with pytest.raises(SupabaseError, match="503"):
        auth.health()
    with pytest.raises(SupabaseError, match="503"):
        auth.password_grant(sim.env["PROBE_USER_EMAIL"], sim.env["PROBE_USER_PASSWORD"], datetime.now(UTC))
    ready = session.get(f"{sim.bot_url}/health/ready", timeout=5)
    assert ready.status_code == 503 and "supabase_unreachable" in ready.json()["degraded"]
    sim.inject("supabase-outage", mode="issuance")
    auth.health()
    with pytest.raises(SupabaseError, match="500"):
        auth.password_grant(sim.env["PROBE_USER_EMAIL"], sim.env["PROBE_USER_PASSWORD"], datetime.now(UTC))
    assert BotApi(sim.bot_url, session, 5).get("/api/status", issued).status == 200


def test_bot_degraded_fails_readiness_with_fields(sim: RunningSimulator, session: requests.Session) -> None:
    sim.inject("bot-degraded", field="order_sync,market_data")
    ready = session.get(f"{sim.bot_url}/health/ready", timeout=5)
    assert ready.status_code == 503 and ready.json()["degraded"] == ["order_sync", "market_data"]
    assert session.get(f"{sim.bot_url}/health/live", timeout=5).status_code == 200
    assert session.get(f"{sim.bot_url}/health", timeout=5).json()["status"] == "degraded"
    assert ready.json()["checks"] == {"broker": "ok", "database": "ok", "market_data": "degraded",
                                      "order_sync": "degraded", "stale_backlog": "ok", "supabase": "ok"}


def test_a_bot_can_be_ready_but_degraded(sim: RunningSimulator, session: requests.Session) -> None:
    sim.inject("bot-degraded", field="order_sync", ready_status="200")
    ready = session.get(f"{sim.bot_url}/health/ready", timeout=5)
    assert ready.status_code == 200
    assert ready.json()["status"] == "degraded" and ready.json()["checks"]["order_sync"] == "degraded"


def test_insufficient_funds_is_a_403_with_the_broker_code(sim: RunningSimulator, session: requests.Session) -> None:
    sim.inject("insufficient-funds")
    log = AccessLog(sim.access_log)
    order = {"symbol": "AAPL", "qty": "1", "side": "buy", "type": "market", "time_in_force": "day"}
    answer = BotApi(sim.bot_url, session, 5).post("/api/trade", order, probe_token(sim, session))
    assert answer.status == 403 and answer.body["code"] == 40310000
    (line,) = log.lines()
    event = parse_line(_dumps(line))
    assert (event.status, event.error_code, event.reason) == (403, 40310000, "insufficient_funds")
    assert not event.is_auth_failure and "token" not in line
    headers = {"APCA-API-KEY-ID": "sim-key-acct-1", "APCA-API-SECRET-KEY": sim.env["APCA_API_SECRET_KEY"]}
    direct = session.post(f"{sim.broker_url}/v2/orders", json=order, headers=headers, timeout=5)
    assert direct.status_code == 403 and direct.json()["code"] == 40310000


def test_insufficient_funds_traffic_adds_403_lines(sim: RunningSimulator) -> None:
    sim.inject("insufficient-funds")
    log = AccessLog(sim.access_log)
    with client_traffic(sim, api=40):
        lines = wait_for_lines(log, lambda lines: sum(1 for x in lines if x["path"] == "/api/trade") >= 3, 15)
    trades = [line for line in lines if line["path"] == "/api/trade"]
    assert all((line["status"], line["error_code"]) == (403, 40310000) for line in trades)
    assert INVALID_PROBE_ORDER["symbol"] == "PROBE-INVALID"
