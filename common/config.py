"""One YAML file configures all three services; secrets come from the environment.

`load_config` parses and validates the file into typed sections. Every problem becomes a
`ConfigError` whose message is one line naming the file and the key, e.g.
``config/local.yml: responder.mode: Input should be 'live', 'dry-run' or 'off'``.
Relative paths (SQLite files, the access log, playbooks) are resolved against the directory of the
config file, so a service behaves the same whatever directory it is started from.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from common.bot_config import BotConfig
from common.checks import ENV_NAME, env_name, http_url
from sources.mapping import BotMapping, default_mapping


class ConfigError(Exception):
    """Configuration that cannot be used; the message is one line naming the problem."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _listen_address(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected host:port, got {value!r}")
    return value


def split_listen(value: str) -> tuple[str, int]:
    """Split a validated ``host:port`` listen address."""
    host, _, port = value.rpartition(":")
    return host, int(port)


def parse_listen(value: str, where: str) -> tuple[str, int]:
    """Validate and split a ``host:port`` given outside the file; ConfigError naming `where` (e.g. --listen)."""
    try:
        return split_listen(_listen_address(value))
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None


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
    issuance_interval_seconds: float = Field(60.0, gt=0, description="the probe user signs in at most this often")
    scrape_budget_seconds: float = Field(
        DEFAULT_SCRAPE_BUDGET_SECONDS, gt=0, description="a scrape answers within this; keep it below scrape_timeout"
    )

    _check_listen = field_validator("listen")(_listen_address)

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


class BudgetConfig(Section):
    max_deactivations: int = Field(5, ge=0)
    window_seconds: float = Field(3600.0, gt=0)


class NotifyConfig(Section):
    slack_webhook_url_env: str = "SLACK_WEBHOOK_URL"
    timeout_seconds: float = Field(5.0, gt=0)
    next_update_minutes: float = Field(
        30.0, gt=0, description="a notice promises its next update this far ahead, and the responder posts it then"
    )


class RetryConfig(Section):
    """Transient failures (no answer from the bot DB, the broker, a hook) are retried with backoff."""

    max_seconds: float = Field(120.0, ge=0, description="retry for at most this long after the first failure")
    initial_seconds: float = Field(1.0, gt=0, description="first backoff; doubled after each failure")
    max_interval_seconds: float = Field(15.0, gt=0, description="the backoff never exceeds this")


class SweeperConfig(Section):
    """Reconcile open runs with Alertmanager (`alertmanager_urls`): end those whose alert is gone."""

    interval_seconds: float = Field(30.0, ge=0, description="how often; 0 turns the sweeper off")
    absent_for_seconds: float = Field(
        90.0,
        ge=0,
        description="an alert missing from every answering Alertmanager this long is resolved (longer than"
        " Prometheus's 1 m resend delay: an Alertmanager that restarted has heard from Prometheus again)",
    )


class ConsoleConfig(Section):
    operators_file: Path | None = Field(None, description="YAML list of named operators (hashed secrets, Slack ids)")
    proxy_user_header: str | None = Field(None, description="identity header set by a trusted reverse proxy")
    trusted_proxies: list[str] = Field(default_factory=list, description="addresses/networks of those proxies")
    session_minutes: int = Field(480, ge=1, description="a login lasts at most this long")
    idle_minutes: int = Field(30, ge=1, description="a session unused this long must log in again")
    public_url: str | None = Field(None, description="the console's URL as people reach it (links in Slack)")
    secure_cookies: bool = Field(False, description="send the session cookie over HTTPS only")

    _check_public_url = field_validator("public_url")(lambda v: v if v is None else http_url(v))

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"not an IP address or network: {item!r}") from None
        return value

    @model_validator(mode="after")
    def _proxy_needs_trust(self) -> ConsoleConfig:
        if self.proxy_user_header and not self.trusted_proxies:
            raise ValueError("proxy_user_header needs trusted_proxies (the addresses allowed to set it)")
        return self


class SlackConfig(Section):
    signing_secret_env: str = "SLACK_SIGNING_SECRET"

    _check_env = field_validator("signing_secret_env")(env_name)


class ResponderConfig(Section):
    listen: str = "127.0.0.1:9809"
    ledger_url: str
    mode: Literal["live", "dry-run", "off"] = "live"
    playbooks: Path
    workers: int = Field(2, ge=1, le=32)
    threads: int = Field(4, ge=1, le=64)
    max_body_bytes: int = Field(1_048_576, ge=1024)
    request_read_timeout_seconds: float = Field(
        10.0, gt=0, le=300, description="a request's headers, and then its body, must arrive within this"
    )
    lease_seconds: float = Field(60.0, gt=0)
    poll_seconds: float = Field(0.5, gt=0)
    ledger_lock_timeout_seconds: float = Field(
        3.0, gt=0, le=60, description="a ledger write waits at most this for a lock, then the webhook answers 503"
    )
    ledger_statement_timeout_seconds: float = Field(
        10.0, gt=0, le=300, description="PostgreSQL statement_timeout of the ledger's sessions"
    )
    occurrence_window_seconds: float = Field(
        15.0,
        ge=0,
        le=300,
        description="firings of one fingerprint whose startsAt are closer than this are one occurrence (an HA"
        " Prometheus pair fires up to one evaluation interval apart); keep it below every rule's `for`; 0 = exact",
    )
    alertmanager_urls: list[str] = Field(default_factory=list)
    rca_dir: Path | None = None
    runbooks: Path | None = Field(
        None, description="docs/runbooks.md, served as HTML at GET /runbooks (where the alerts' runbook links "
        "open); null: not served"
    )
    budget: BudgetConfig = BudgetConfig()
    retry: RetryConfig = RetryConfig()
    sweeper: SweeperConfig = SweeperConfig()
    notify: NotifyConfig = NotifyConfig()
    max_close_notional: float = Field(10_000.0, ge=0)
    approval_timeout_seconds: float = Field(14_400.0, gt=0, description="an approval nobody gives expires")
    console: ConsoleConfig = ConsoleConfig()
    slack: SlackConfig = SlackConfig()

    _check_listen = field_validator("listen")(_listen_address)


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


class Config(Section):
    bot_db: BotDbConfig
    broker: BrokerConfig
    bot: BotConfig
    supabase: SupabaseConfig
    exporters: ExportersConfig | None = None
    responder: ResponderConfig | None = None
    simulator: SimulatorConfig | None = None
    source: Path = Path("<memory>")

    def section(self, name: Literal["exporters", "responder", "simulator"]) -> Any:
        """Return a service's section, or raise ConfigError naming the missing key."""
        value = getattr(self, name)
        if value is None:
            raise ConfigError(f"{self.source}: {name}: section is missing")
        return value


def _resolve_paths(raw: dict[str, Any], base: Path) -> None:
    """Make relative file paths and SQLite URLs relative to the config file's directory."""

    def fix_path(section: str, key: str) -> None:
        sect = raw.get(section)
        if isinstance(sect, dict) and isinstance(sect.get(key), str):
            path = Path(sect[key])
            sect[key] = str(path if path.is_absolute() else (base / path).resolve())

    def fix_sqlite(section: str, key: str) -> None:
        sect = raw.get(section)
        if isinstance(sect, dict) and isinstance(sect.get(key), str):
            sect[key] = resolve_sqlite_url(sect[key], base)

    fix_path("bot", "access_log")
    fix_path("responder", "playbooks")
    fix_path("responder", "rca_dir")
    fix_path("responder", "runbooks")
    responder = raw.get("responder")
    if isinstance(responder, dict) and isinstance(responder.get("console"), dict):
        console = responder["console"]
        if isinstance(console.get("operators_file"), str):
            responder["console"] = {**console, "operators_file": str((base / console["operators_file"]).resolve())}
    fix_sqlite("bot_db", "url")
    fix_sqlite("responder", "ledger_url")
    fix_path("bot_db", "mapping")  # a mapping kept in a file of its own


def resolve_sqlite_url(url: str, base: Path) -> str:
    """Turn ``sqlite:///relative.db`` into an absolute URL under `base`; other URLs pass through."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url.startswith(prefix + "/") or url == "sqlite://":
        return url
    rest = url[len(prefix) :]
    if rest.startswith(":memory:"):
        return url
    return prefix + str((base / rest).resolve())


ENV_OVERRIDES: dict[str, tuple[str, str]] = {
    "BOT_DB_URL": ("bot_db", "url"),
    "LEDGER_DB_URL": ("responder", "ledger_url"),
    "SUPABASE_URL": ("supabase", "url"),
    "BROKER_BASE_URL": ("broker", "base_url"),
}


def _apply_env_overrides(raw: dict[str, Any], env: Mapping[str, str]) -> None:
    for var, (section, key) in ENV_OVERRIDES.items():
        value = env.get(var)
        if value and isinstance(raw.get(section), dict):
            raw[section][key] = value


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = [str(part) for part in err["loc"]]
    message = err["msg"]
    if err["type"] == "mapping_key":  # a model's check naming one of its own keys
        loc.append(str(err["ctx"]["key"]))
        message = str(err["ctx"]["message"])
    where = ".".join(loc) or "(top level)"
    if err["type"] == "missing":
        message = "required key is missing"
    elif err["type"] == "extra_forbidden":
        message = "unknown key"
    more = len(exc.errors()) - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"{where}: {message}{suffix}"


def parse_config(raw: Any, source: Path, env: Mapping[str, str] | None = None) -> Config:
    """Validate an already-loaded YAML document."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level, got {type(raw).__name__}")
    raw = {key: (dict(value) if isinstance(value, dict) else value) for key, value in raw.items()}
    _apply_env_overrides(raw, os.environ if env is None else env)
    _resolve_paths(raw, source.parent.resolve())
    mapping_file = _read_mapping_file(raw, source)
    try:
        return Config.model_validate({**raw, "source": source})
    except ValidationError as exc:
        problem = _first_error(exc)
        if mapping_file and problem.startswith("bot_db.mapping"):
            problem = f"bot_db.mapping ({mapping_file}){problem.removeprefix('bot_db.mapping')}"
        raise ConfigError(f"{source}: {problem}") from None


def _read_mapping_file(raw: dict[str, Any], source: Path) -> str | None:
    """Replace a ``bot_db.mapping`` file name by the file's content; return the file name (None: inline)."""
    section = raw.get("bot_db")
    if not isinstance(section, dict) or not isinstance(section.get("mapping"), str):
        return None
    path = Path(section["mapping"])
    section["mapping"] = _read_yaml(path, f"{source}: bot_db.mapping ({path}): ", "mapping file")
    return str(path)


def load_config(path: str | Path, env: Mapping[str, str] | None = None) -> Config:
    """Read, validate and return the configuration at `path`."""
    source = Path(path)
    return parse_config(_read_yaml(source, f"{source}: ", "config file"), source, env)


def _read_yaml(path: Path, where: str, what: str) -> Any:
    """The YAML document in `path`; ConfigError starting with `where` when it cannot be read or parsed."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{where}cannot read {what}: {exc.strerror}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{where}malformed YAML{at}: {problem}") from None


def read_secret(name: str, env: Mapping[str, str] | None = None, *, required: bool = True) -> str | None:
    """Read a secret from ``$NAME`` or from the file named by ``$NAME_FILE``."""
    env = os.environ if env is None else env
    value = env.get(name)
    file_name = env.get(f"{name}_FILE")
    if not value and file_name:
        try:
            value = Path(file_name).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"${name}_FILE: cannot read {file_name}: {exc.strerror}") from None
    if not value:
        if required:
            raise ConfigError(f"${name} (or ${name}_FILE) is not set")
        return None
    return value
