"""Local secrets: complete, consistent with each other, random, and required by `load_secrets`."""

from __future__ import annotations

from pathlib import Path

import jwt
import pytest

from common.config import Config, ConfigError, parse_config
from simulator.secrets import generate_local_secrets, load_secrets

REQUIRED = ("APCA_API_SECRET_KEY", "SUPABASE_JWT_SECRET", "SUPABASE_ANON_KEY", "SUPABASE_SERVICE_ROLE_KEY",
            "PROBE_USER_EMAIL", "PROBE_USER_PASSWORD")


def _config() -> Config:
    raw = {"bot_db": {"url": "sqlite://"}, "broker": {"base_url": "http://127.0.0.1:1"},
           "bot": {"base_url": "http://127.0.0.1:2", "access_log": "log"}, "supabase": {"url": "http://127.0.0.1:3"}}
    return parse_config(raw, Path("test.yml"), env={})


def test_generated_secrets_are_complete_and_consistent() -> None:
    secrets = generate_local_secrets()
    assert set(REQUIRED) <= set(secrets) and all(secrets[name] for name in REQUIRED)
    service = jwt.decode(secrets["SUPABASE_SERVICE_ROLE_KEY"], secrets["SUPABASE_JWT_SECRET"], algorithms=["HS256"])
    anon = jwt.decode(secrets["SUPABASE_ANON_KEY"], secrets["SUPABASE_JWT_SECRET"], algorithms=["HS256"])
    assert (service["iss"], service["role"], anon["role"]) == ("supabase", "service_role", "anon")
    assert "@" in secrets["PROBE_USER_EMAIL"]


def test_generated_secrets_differ_between_calls() -> None:
    first, second = generate_local_secrets(), generate_local_secrets()
    assert all(first[name] != second[name] for name in REQUIRED)


@pytest.mark.parametrize("missing", REQUIRED)
def test_load_secrets_names_the_missing_variable(missing: str) -> None:
    env = {name: value for name, value in generate_local_secrets().items() if name != missing}
    with pytest.raises(ConfigError, match=rf"\${missing}"):
        load_secrets(_config(), env)


def test_load_secrets_reads_all_of_them() -> None:
    env = generate_local_secrets()
    loaded = load_secrets(_config(), env)
    assert loaded.jwt_secret == env["SUPABASE_JWT_SECRET"] and loaded.probe_email == env["PROBE_USER_EMAIL"]
