"""The secrets the simulated services share, read from the environment or generated for local use."""

from __future__ import annotations

import secrets as random_secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass

import jwt

from common.broker_secrets import BrokerSecrets, read_broker_secrets
from common.config import Config, ConfigError, read_secret

TEN_YEARS_SECONDS = 10 * 365 * 24 * 3600


@dataclass(frozen=True)
class SimulatorSecrets:
    """Everything secret the simulator needs; see docs/architecture.md for the variables."""

    broker: BrokerSecrets
    jwt_secret: str
    anon_key: str
    service_role_key: str
    probe_email: str
    probe_password: str


def api_key_jwt(jwt_secret: str, role: str, now: int | None = None) -> str:
    """A legacy Supabase API key: a long-lived HS256 JWT ``{"iss": "supabase", "role": role}``."""
    issued = int(time.time()) if now is None else now
    claims = {"iss": "supabase", "ref": "local", "role": role, "iat": issued, "exp": issued + TEN_YEARS_SECONDS}
    return jwt.encode(claims, jwt_secret, algorithm="HS256")


def generate_local_secrets() -> dict[str, str]:
    """Return a complete, random, consistent set of the secret environment variables for a local stack."""
    jwt_secret = random_secrets.token_urlsafe(48)
    return {
        "APCA_API_SECRET_KEY": random_secrets.token_urlsafe(32),
        "SUPABASE_JWT_SECRET": jwt_secret,
        "SUPABASE_ANON_KEY": api_key_jwt(jwt_secret, "anon"),
        "SUPABASE_SERVICE_ROLE_KEY": api_key_jwt(jwt_secret, "service_role"),
        "PROBE_USER_EMAIL": f"probe-{random_secrets.token_hex(4)}@example.com",
        "PROBE_USER_PASSWORD": random_secrets.token_urlsafe(24),
        "RESPONDER_WEBHOOK_TOKEN": random_secrets.token_urlsafe(32),
        "RESPONDER_OPERATOR_TOKEN": random_secrets.token_urlsafe(32),
        "RESPONDER_SESSION_SECRET": random_secrets.token_urlsafe(48),
        "SLACK_SIGNING_SECRET": random_secrets.token_hex(16),
    }


def _required(name: str, env: Mapping[str, str] | None) -> str:
    value = read_secret(name, env, required=True)
    if value is None:  # read_secret raises first; this keeps the type exact
        raise ConfigError(f"${name} is not set")
    return value


def load_secrets(config: Config, env: Mapping[str, str] | None = None) -> SimulatorSecrets:
    """Read the simulator's secrets; raise ConfigError naming the first missing variable."""
    return SimulatorSecrets(
        broker=read_broker_secrets(config.broker, env, required=True),
        jwt_secret=_required("SUPABASE_JWT_SECRET", env),
        anon_key=_required(config.supabase.anon_key_env, env),
        service_role_key=_required("SUPABASE_SERVICE_ROLE_KEY", env),
        probe_email=_required(config.supabase.probe_email_env, env),
        probe_password=_required(config.supabase.probe_password_env, env),
    )
