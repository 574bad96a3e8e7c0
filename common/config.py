"""One YAML file configures all three services; secrets come from the environment.

`load_config` parses and validates the file into typed sections. Every problem becomes a
`ConfigError` whose message is one line naming the file and the key, e.g.
``config/local.yml: responder.mode: Input should be 'live', 'dry-run' or 'off'``.
Relative paths (SQLite files, the access log, playbooks) are resolved against the directory of the
config file, so a service behaves the same whatever directory it is started from.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import ValidationError

from common.bot_config import BotConfig
from common.config_sections import (
    DEFAULT_SCRAPE_BUDGET_SECONDS,
    BotDbConfig,
    BrokerConfig,
    CryptoConfig,
    ExportersConfig,
    Section,
    SeedConfig,
    SimulatorConfig,
    SupabaseConfig,
    TrafficConfig,
    listen_address,
    split_listen,
)
from common.responder_config import (
    BudgetConfig,
    ConsoleConfig,
    NotifyConfig,
    ResponderConfig,
    RetryConfig,
    SlackConfig,
    SweeperConfig,
)

__all__ = [
    "DEFAULT_SCRAPE_BUDGET_SECONDS",
    "ENV_OVERRIDES",
    "BotDbConfig",
    "BrokerConfig",
    "BudgetConfig",
    "Config",
    "ConfigError",
    "ConsoleConfig",
    "CryptoConfig",
    "ExportersConfig",
    "NotifyConfig",
    "ResponderConfig",
    "RetryConfig",
    "SeedConfig",
    "SimulatorConfig",
    "SlackConfig",
    "SupabaseConfig",
    "SweeperConfig",
    "TrafficConfig",
    "load_config",
    "parse_config",
    "parse_listen",
    "read_secret",
    "resolve_sqlite_url",
    "split_listen",
]


class ConfigError(Exception):
    """Configuration that cannot be used; the message is one line naming the problem."""


def parse_listen(value: str, where: str) -> tuple[str, int]:
    """Validate and split a ``host:port`` given outside the file; ConfigError naming `where` (e.g. --listen)."""
    try:
        return split_listen(listen_address(value))
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None


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
