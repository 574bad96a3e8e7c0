"""The sections of the configuration file other than `responder:` (see common/config.py for loading).

Each section is a frozen pydantic model; a check that fails raises ValueError, which `load_config` turns
into a ConfigError naming the file and the key.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from common.checks import ENV_NAME, env_name, http_url
from sources.mapping import BotMapping, default_mapping


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def listen_address(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected host:port, got {value!r}")
    return value


def split_listen(value: str) -> tuple[str, int]:
    """Split a validated ``host:port`` listen address."""
    host, _, port = value.rpartition(":")
    return host, int(port)


class BotDbConfig(Section):
    url: str = Field(description="SQLAlchemy URL of the bot's database (sqlite:///... or postgresql://...)")
    stale_after_seconds: float = Field(
        300.0, gt=0, description="order SLA of every stale rule that gives no after_seconds of its own"
    )
    mapping: BotMapping = Field(
        default_factory=default_mapping, description="where the bot keeps its data (inline, or a file name)"
    )
    unmapped_check_interval_seconds: float = Field(
        60.0, gt=0, description="how often the exporters look for values the mapping does not name"
    )
    unmapped_values_cap: int = Field(20, ge=1, le=1000, description="unmapped values exported per field, at most")


def _account_secret_envs(value: dict[str, str]) -> dict[str, str]:
    for key_id, name in value.items():
        if not key_id.strip():
            raise ValueError("an API key id is empty")
        if not ENV_NAME.fullmatch(name):
            raise ValueError(f"{key_id}: not an environment variable name: {name!r}")
    return value


class CryptoConfig(Section):
    """How crypto quantities are compared (sources/quantities.py)."""

    fee_rate: float = Field(
        0.0025, ge=0, lt=0.1, description="fee a crypto buy pays in the asset (default: Alpaca's highest taker fee)"
    )
    dust_notional: float = Field(1.0, ge=0, description="a crypto quantity worth less than this (USD) is dust")
    asset_cache_seconds: float = Field(3600.0, gt=0, description="how long an asset's min_order_size etc. are kept")


class BrokerConfig(Section):
    base_url: str
    connect_timeout_seconds: float = Field(1.0, gt=0)
    read_timeout_seconds: float = Field(2.0, gt=0)
    max_concurrency: int = Field(32, ge=1, le=256)
    secret_env: str = Field(
        "APCA_API_SECRET_KEY", description="environment variable holding the API secret of key ids not listed below"
    )
    account_secret_envs: dict[str, str] = Field(
        default_factory=dict, description="API key id -> environment variable holding that key id's secret"
    )
    crypto: CryptoConfig = CryptoConfig()

    _check_base_url = field_validator("base_url")(http_url)
    _check_secret_env = field_validator("secret_env")(env_name)
    _check_account_secret_envs = field_validator("account_secret_envs")(_account_secret_envs)


class SupabaseConfig(Section):
    url: str
    expected_issuer: str | None = None
    expected_audience: str = "authenticated"
    probe_email_env: str = "PROBE_USER_EMAIL"
    probe_password_env: str = "PROBE_USER_PASSWORD"
    anon_key_env: str = "SUPABASE_ANON_KEY"

    _check_url = field_validator("url")(http_url)


DEFAULT_SCRAPE_BUDGET_SECONDS = 9.0  # below the 10 s scrape_timeout of alerts/prometheus.yml


class ExportersConfig(Section):
    listen: str = "127.0.0.1:9808"
    probe_timeout_seconds: float = Field(2.0, gt=0)
    ghost_scrape_budget_seconds: float = Field(8.0, gt=0)
    ghost_settle_seconds: float = Field(
        5.0,
        ge=0,
        le=60,
        description="a ghost-looking instrument whose last order event (placed, updated, filled; at the broker or"
        " in the bot) is this recent is settling, not a ghost; 0 = never settling",
    )
    ghost_settle_orders_limit: int = Field(
        50, ge=1, le=500, description="the newest broker orders read per account with a ghost-looking instrument"
    )
    issuance_interval_seconds: float = Field(60.0, gt=0, description="the probe user signs in at most this often")
    scrape_budget_seconds: float = Field(
        DEFAULT_SCRAPE_BUDGET_SECONDS, gt=0, description="a scrape answers within this; keep it below scrape_timeout"
    )

    _check_listen = field_validator("listen")(listen_address)

    @model_validator(mode="after")
    def _budgets_fit(self) -> ExportersConfig:
        """The ghost pass and the two probe rounds (one after the other) must fit in the scrape budget."""
        budget = self.scrape_budget_seconds
        if self.ghost_scrape_budget_seconds > budget:
            raise ValueError(
                f"ghost_scrape_budget_seconds ({self.ghost_scrape_budget_seconds:g}) must not exceed "
                f"scrape_budget_seconds ({budget:g})"
            )
        if 2 * self.probe_timeout_seconds > budget:
            raise ValueError(
                f"probe_timeout_seconds ({self.probe_timeout_seconds:g}) must be at most half of "
                f"scrape_budget_seconds ({budget:g}): two probe rounds run one after the other"
            )
        return self


_CRYPTO_PAIR = re.compile(r"[A-Z0-9]{2,10}/[A-Z0-9]{2,6}")


def _crypto_pairs(value: list[str]) -> list[str]:
    for pair in value:
        if not _CRYPTO_PAIR.fullmatch(pair):
            raise ValueError(f"not a crypto pair in Alpaca's order form (e.g. BTC/USD): {pair!r}")
    return value


class SeedConfig(Section):
    profiles: int = Field(6, ge=1)
    accounts: int = Field(3, ge=1)
    symbols: list[str] = Field(default_factory=lambda: ["AAPL", "MSFT", "TSLA", "NVDA", "AMZN"])
    crypto_profiles: int = Field(0, ge=0, description="crypto profiles after the equity ones (p-<profiles+1>, ...)")
    crypto_symbols: list[str] = Field(
        default_factory=lambda: ["BTC/USD", "ETH/USD", "LINK/USD"], min_length=1, description="one pair per profile"
    )

    _check_crypto_symbols = field_validator("crypto_symbols")(_crypto_pairs)


class TrafficConfig(Section):
    api_requests_per_second: float = Field(5.0, ge=0)
    websocket_connects_per_second: float = Field(2.0, ge=0)
    crypto_fills_per_second: float = Field(
        0.0, ge=0, le=100, description="the bot's own crypto trading: round trips of its crypto profiles"
    )


class SimulatorConfig(Section):
    host: str = "127.0.0.1"
    broker_port: int = Field(9801, gt=0, lt=65536)
    bot_port: int = Field(9802, gt=0, lt=65536)
    supabase_port: int = Field(9803, gt=0, lt=65536)
    control_port: int = Field(9804, gt=0, lt=65536)
    bot_shape: str = Field(
        "default", description="how the simulated bot stores its data (docs/simulator.md); --bot-shape overrides it"
    )
    seed: SeedConfig = SeedConfig()
    traffic: TrafficConfig = TrafficConfig()
