"""The Supabase auth stand-in through sources.supabase.SupabaseAuth and raw HTTP."""

from __future__ import annotations

from datetime import UTC, datetime

import jwt
import pytest
import requests

from sources.supabase import SupabaseError
from tests.simulator.helpers import bearer, supabase
from tests.support.simulator import RunningSimulator


def _grant(sim: RunningSimulator, session: requests.Session, body: dict[str, str], grant: str = "password",
           apikey: str | None = None) -> requests.Response:
    headers = {"apikey": apikey if apikey is not None else sim.env["SUPABASE_ANON_KEY"]}
    return session.post(f"{sim.supabase_url}/auth/v1/token", params={"grant_type": grant}, json=body,
                        headers=headers, timeout=5)


def test_health_names_gotrue(sim: RunningSimulator, session: requests.Session) -> None:
    supabase(sim, session).health()
    body = session.get(f"{sim.supabase_url}/auth/v1/health", timeout=5).json()
    assert body["name"] == "GoTrue" and body["version"]


def test_password_grant_issues_a_supabase_shaped_token(sim: RunningSimulator, session: requests.Session) -> None:
    now = datetime.now(UTC)
    issued = supabase(sim, session).password_grant(sim.env["PROBE_USER_EMAIL"], sim.env["PROBE_USER_PASSWORD"], now)
    claims = jwt.decode(issued.access_token, sim.env["SUPABASE_JWT_SECRET"], algorithms=["HS256"],
                        audience="authenticated", issuer=f"{sim.supabase_url}/auth/v1")
    assert claims["role"] == "authenticated" and claims["email"] == sim.env["PROBE_USER_EMAIL"]
    assert claims["exp"] - claims["iat"] == 3600 and claims["sub"] and claims["session_id"]
    assert issued.fresh(now)
    credentials = {"email": sim.env["PROBE_USER_EMAIL"], "password": sim.env["PROBE_USER_PASSWORD"]}
    body = _grant(sim, session, credentials).json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600
    assert body["user"]["id"] == claims["sub"] and body["refresh_token"]


@pytest.mark.parametrize("password_suffix", ["-wrong", ""])
def test_bad_credentials_are_400_invalid_grant(sim: RunningSimulator, session: requests.Session,
                                               password_suffix: str) -> None:
    email = sim.env["PROBE_USER_EMAIL"] if password_suffix else "nobody@example.com"
    answer = _grant(sim, session, {"email": email, "password": sim.env["PROBE_USER_PASSWORD"] + password_suffix})
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"
    with pytest.raises(SupabaseError, match="HTTP 400"):
        supabase(sim, session).password_grant(email, "nope", datetime.now(UTC))


def test_token_endpoint_wants_an_api_key(sim: RunningSimulator, session: requests.Session) -> None:
    body = {"email": sim.env["PROBE_USER_EMAIL"], "password": sim.env["PROBE_USER_PASSWORD"]}
    assert _grant(sim, session, body, apikey="").status_code == 401
    assert _grant(sim, session, body, apikey="not-a-key").status_code == 401


def test_refresh_token_rotates(sim: RunningSimulator, session: requests.Session) -> None:
    first = _grant(sim, session, {"email": sim.env["PROBE_USER_EMAIL"], "password": sim.env["PROBE_USER_PASSWORD"]})
    refresh = first.json()["refresh_token"]
    second = _grant(sim, session, {"refresh_token": refresh}, grant="refresh_token")
    assert second.status_code == 200 and second.json()["refresh_token"] != refresh
    assert second.json()["user"]["id"] == first.json()["user"]["id"]
    reused = _grant(sim, session, {"refresh_token": refresh}, grant="refresh_token")
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"


def test_admin_users_needs_the_service_role_key(sim: RunningSimulator, session: requests.Session) -> None:
    service, anon = sim.env["SUPABASE_SERVICE_ROLE_KEY"], sim.env["SUPABASE_ANON_KEY"]
    url = f"{sim.supabase_url}/auth/v1/admin/users"
    ok = session.get(url, headers={"apikey": service, **bearer(service)}, timeout=5)
    assert ok.status_code == 200
    emails = [user["email"] for user in ok.json()["users"]]
    assert sim.env["PROBE_USER_EMAIL"] in emails
    for headers in ({"apikey": anon, **bearer(anon)}, {"apikey": service}, {"apikey": anon, **bearer(service)}, {}):
        assert session.get(url, headers=headers, timeout=5).status_code == 401
