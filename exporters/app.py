"""Wire the collectors from the configuration; every side effect is created here and passed in."""

from __future__ import annotations

import http.cookiejar
import secrets as random_secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import requests
from prometheus_client import CollectorRegistry
from requests.adapters import HTTPAdapter
from sqlalchemy.exc import SQLAlchemyError

from common.broker_secrets import BrokerSecrets, read_broker_secrets
from common.config import Config, ConfigError, ExportersConfig, read_secret
from common.db import describe_url
from exporters.auth_clients import ClientWindows
from exporters.auth_failures import AuthFailureCollector
from exporters.bot_mapping import ProfileAccountCollector, UnmappedValuesCollector
from exporters.collector import ExporterCollector
from exporters.ghost_positions import GhostPositionCollector
from exporters.probes import ProbeCredentials, Probes
from exporters.settling import SettleWindow
from exporters.stale_backlog import StaleBacklogCollector
from sources.accesslog import CHANNELS, AccessLogTail, LineFormat, probe_user_agent
from sources.assets import AssetDirectory
from sources.botapi import BotApi
from sources.botdata import BotData, open_bot_data
from sources.broker import BrokerClient
from sources.quantities import QuantityRules
from sources.supabase import SupabaseAuth


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_probe_tag() -> str:
    """A random tag for this process's probe User-Agent (nobody else can send it by accident or on purpose)."""
    return random_secrets.token_hex(8)


@dataclass(frozen=True)
class Secrets:
    broker: BrokerSecrets  # its repr hides the values
    probe: ProbeCredentials = field(repr=False)
    anon_key: str | None = field(repr=False)

    @classmethod
    def from_env(cls, config: Config, env: Mapping[str, str]) -> Secrets:
        """Read the secrets the exporters need; raise ConfigError naming the first missing one."""
        return cls(
            broker=read_broker_secrets(config.broker, env, required=True),
            probe=ProbeCredentials(
                email=_required(read_secret(config.supabase.probe_email_env, env)),
                password=_required(read_secret(config.supabase.probe_password_env, env)),
            ),
            anon_key=read_secret(config.supabase.anon_key_env, env, required=False),
        )


def _required(value: str | None) -> str:
    assert value is not None  # read_secret(required=True) raised otherwise
    return value


def http_session(pool_size: int) -> requests.Session:
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def probe_session(pool_size: int) -> requests.Session:
    """A session for the bot probes that carries no credentials of its own.

    It stores no cookie the bot sets (so the "no credentials" trade probe sends none) and ignores the
    environment (no ~/.netrc Basic auth, no proxy settings): only what a probe passes explicitly is sent."""
    session = http_session(pool_size)
    session.trust_env = False
    session.cookies = requests.cookies.RequestsCookieJar(policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    return session


def check_bot_database(bot: BotData, url: str) -> None:
    """Fail start-up with one line when the mapping does not fit the bot's database (a table or column
    missing, a query failing) or the database cannot be read at all."""
    try:
        bot.check()
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise ConfigError(f"bot_db.url: cannot read the bot's database at {describe_url(url)}: {reason}") from None


def build_collector(
    config: Config,
    secrets: Secrets,
    bot: BotData,
    session: requests.Session,
    bot_session: requests.Session,
    clock: Callable[[], datetime] = utc_now,
    probe_tag: Callable[[], str] = new_probe_tag,
) -> ExporterCollector:
    section: ExportersConfig = config.section("exporters")
    broker = config.broker
    timeout = (broker.connect_timeout_seconds, broker.read_timeout_seconds)

    def broker_for(api_key_id: str) -> BrokerClient:
        return BrokerClient(broker.base_url, api_key_id, secrets.broker.for_key(api_key_id) or "", session, timeout)

    user_agent = probe_user_agent(probe_tag())
    probes = Probes(
        bot=BotApi(config.bot.base_url, bot_session, section.probe_timeout_seconds, user_agent),
        supabase=SupabaseAuth(config.supabase.url, secrets.anon_key, session, section.probe_timeout_seconds),
        credentials=secrets.probe,
        clock=clock,
        issuance_interval=timedelta(seconds=section.issuance_interval_seconds),
        health_fields=config.bot.health.degraded_fields,
    )
    return ExporterCollector(
        [
            StaleBacklogCollector(bot, clock),
            GhostPositionCollector(
                bot,
                broker_for,
                broker.max_concurrency,
                section.ghost_scrape_budget_seconds,
                rules=QuantityRules(broker.crypto.fee_rate, broker.crypto.dust_notional),
                assets=AssetDirectory(clock, timedelta(seconds=broker.crypto.asset_cache_seconds)),
                window=SettleWindow(section.ghost_settle_seconds, section.ghost_settle_orders_limit),
                clock=clock,
            ),
            auth_failure_collector(config, probes, user_agent, clock),
            ProfileAccountCollector(bot),
            UnmappedValuesCollector(
                bot, config.bot_db.unmapped_check_interval_seconds, config.bot_db.unmapped_values_cap
            ),
        ],
        section.scrape_budget_seconds,
    )


def auth_failure_collector(
    config: Config, probes: Probes, user_agent: str, clock: Callable[[], datetime]
) -> AuthFailureCollector:
    """The access log (when the bot has one) in its configured format, with client counts where it names them."""
    if config.bot.access_log is None:
        return AuthFailureCollector(None, probes, user_agent)
    line_format = LineFormat(config.bot.access_log_format)
    tail = AccessLogTail(config.bot.access_log, line_format=line_format)
    clients = ClientWindows(CHANNELS, lambda: clock().timestamp()) if line_format.identifies_clients else None
    return AuthFailureCollector(tail, probes, user_agent, clients)


def build_registry(collector: ExporterCollector) -> CollectorRegistry:
    """A fresh registry holding only the exporter's collector (no process/platform metrics)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry


def open_bot(config: Config, clock: Callable[[], datetime] = utc_now) -> BotData:
    """The gateway to the bot's data, checked against the database (ConfigError naming the key)."""
    bot = open_bot_data(config.bot_db, clock)
    try:
        check_bot_database(bot, config.bot_db.url)
    except ConfigError:
        bot.dispose()
        raise
    return bot
