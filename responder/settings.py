"""Everything the responder is configured with: the YAML sections it uses plus secrets from the environment."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from common.bot_config import HOOK_NAMES
from common.broker_secrets import BrokerSecrets, read_broker_secrets
from common.config import Config, ConfigError, ResponderConfig, load_config, read_secret, split_listen
from sources.botdata import resolve_entries_hooks
from sources.hooks import HookSpec, resolve_hook
from sources.mapping import ControlApiEntries

WEBHOOK_TOKEN = "RESPONDER_WEBHOOK_TOKEN"
OPERATOR_TOKEN = "RESPONDER_OPERATOR_TOKEN"
SERVICE_ROLE_KEY = "SUPABASE_SERVICE_ROLE_KEY"
SESSION_SECRET = "RESPONDER_SESSION_SECRET"
MIN_SESSION_SECRET = 32
# A bearer token anything on the network can guess opens the automation: refuse weak ones at start.
MIN_TOKEN_CHARS = 20
MIN_TOKEN_DISTINCT = 8
TOKEN_ADVICE = "e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"


@dataclass(frozen=True, repr=False)
class Secrets:
    """Secrets read from ``$NAME`` or ``$NAME_FILE``; never logged (the repr hides them)."""

    webhook_token: str | None = None
    operator_token: str | None = None
    slack_webhook_url: str | None = None
    broker: BrokerSecrets = field(default_factory=BrokerSecrets)
    service_role_key: str | None = None
    anon_key: str | None = None
    probe_email: str | None = None
    probe_password: str | None = None
    session_secret: str | None = None
    slack_signing_secret: str | None = None

    def __repr__(self) -> str:
        present = [name for name, value in vars(self).items() if value]
        return f"Secrets(present={present})"


def read_secrets(config: Config, env: Mapping[str, str]) -> Secrets:
    responder = config.section("responder")

    def get(name: str) -> str | None:
        return read_secret(name, env, required=False)

    return Secrets(
        webhook_token=get(WEBHOOK_TOKEN),
        operator_token=get(OPERATOR_TOKEN),
        slack_webhook_url=get(responder.notify.slack_webhook_url_env),
        broker=read_broker_secrets(config.broker, env, required=False),
        service_role_key=get(SERVICE_ROLE_KEY),
        anon_key=get(config.supabase.anon_key_env),
        probe_email=get(config.supabase.probe_email_env),
        probe_password=get(config.supabase.probe_password_env),
        session_secret=get(SESSION_SECRET),
        slack_signing_secret=get(responder.slack.signing_secret_env),
    )


def read_bot_control(config: Config, env: Mapping[str, str]) -> dict[str, HookSpec]:
    """The control API's calls with their secrets, when the mapping stops entries through that API
    (ConfigError naming the key of a variable not set); empty otherwise."""
    entries = config.bot_db.mapping.profiles.entries
    if not isinstance(entries, ControlApiEntries):
        return {}
    try:
        return resolve_entries_hooks(entries, env)
    except ConfigError as exc:
        raise ConfigError(f"{config.source}: {exc}") from None


@dataclass(frozen=True)
class Settings:
    config: Config
    secrets: Secrets
    insecure_local: bool = False
    hooks: Mapping[str, HookSpec] = field(default_factory=dict)
    bot_control: Mapping[str, HookSpec] = field(default_factory=dict)  # the control API's calls (secrets hidden)

    @property
    def responder(self) -> ResponderConfig:
        section: ResponderConfig = self.config.section("responder")
        return section


def load_settings(path: Path, env: Mapping[str, str], insecure_local: bool = False) -> Settings:
    """Load and check the configuration; raise ConfigError (one line) when the responder must not start."""
    config = load_config(path, env)
    responder: ResponderConfig = config.section("responder")
    secrets = read_secrets(config, env)
    if insecure_local:
        host, _ = split_listen(responder.listen)
        if not _loopback(host):
            raise ConfigError(f"{path}: responder.listen: --insecure-local only listens on loopback, not {host}")
    elif not secrets.webhook_token:
        raise ConfigError(
            f"${WEBHOOK_TOKEN} (or ${WEBHOOK_TOKEN}_FILE) is not set: the webhook refuses to run unauthenticated"
            " (--insecure-local is for loopback-only local runs)"
        )
    console = responder.console
    if (console.operators_file or console.proxy_user_header) and len(secrets.session_secret or "") < MIN_SESSION_SECRET:
        raise ConfigError(
            f"${SESSION_SECRET} (or ${SESSION_SECRET}_FILE) must hold at least {MIN_SESSION_SECRET} characters: "
            "the console signs its sessions with it (the same value on every replica)"
        )
    check_token(WEBHOOK_TOKEN, secrets.webhook_token)
    check_token(OPERATOR_TOKEN, secrets.operator_token)
    if secrets.operator_token and secrets.operator_token == secrets.webhook_token:
        raise ConfigError(
            f"${OPERATOR_TOKEN} equals ${WEBHOOK_TOKEN}: Alertmanager's credentials would open the operator API"
            " (approvals, re-enabling profiles); use two different tokens"
        )
    return Settings(config, secrets, insecure_local, resolve_hooks(config, env), read_bot_control(config, env))


def resolve_hooks(config: Config, env: Mapping[str, str]) -> dict[str, HookSpec]:
    """The bot's configured hooks with their secrets and programs; ConfigError naming the hook otherwise."""
    hooks = {}
    for name in HOOK_NAMES:
        hook = config.bot.hook(name)
        if hook is not None:
            try:
                hooks[name] = resolve_hook(name, hook, env)
            except ConfigError as exc:
                raise ConfigError(f"{config.source}: {exc}") from None
    return hooks


def check_token(name: str, token: str | None) -> None:
    """Refuse a set but weak bearer token: short, with whitespace or control characters, or few distinct ones."""
    if token is None:
        return
    problems = []
    if len(token) < MIN_TOKEN_CHARS:
        problems.append(f"has {len(token)} characters, at least {MIN_TOKEN_CHARS} are required")
    if any(not char.isprintable() or char.isspace() or not char.isascii() for char in token):
        problems.append("contains whitespace, control or non-ASCII characters")
    if len(set(token)) < MIN_TOKEN_DISTINCT:
        problems.append(f"has fewer than {MIN_TOKEN_DISTINCT} distinct characters")
    if problems:
        raise ConfigError(
            f"${name} is too weak: it {'; it '.join(problems)} (a random token of printable ASCII without spaces,"
            f" {TOKEN_ADVICE})"
        )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
