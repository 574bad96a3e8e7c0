"""The `bot:` section: access-log format, health fields and hooks are validated at start, errors name the key;
today's keys keep working."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.bot_config import HookConfig, describe_hook
from common.config import ConfigError, load_config

BASE = """
bot_db: {url: "sqlite:///bot.sqlite3"}
broker: {base_url: "http://127.0.0.1:1"}
supabase: {url: "http://127.0.0.1:3"}
bot:
  base_url: http://127.0.0.1:2
  access_log: access.log
"""


def load(tmp_path: Path, extra: str = ""):  # type: ignore[no-untyped-def]
    path = tmp_path / "config.yml"
    path.write_text(BASE + extra)
    return load_config(path, env={})


def test_defaults_are_today_s_behaviour(tmp_path: Path) -> None:
    bot = load(tmp_path).bot
    assert bot.access_log_format.format == "json" and bot.access_log_format.fields.channel == "channel"
    assert bot.health.degraded_fields == []
    assert bot.hook("restart") is None and bot.hook("reconcile") is None


def test_no_access_log_at_all(tmp_path: Path) -> None:
    path = tmp_path / "config.yml"
    path.write_text(BASE.replace("  access_log: access.log\n", ""))
    assert load_config(path, env={}).bot.access_log is None


def test_legacy_hook_urls_are_http_hooks_with_the_service_role_bearer(tmp_path: Path) -> None:
    bot = load(tmp_path, "  restart_url: http://bot/admin/restart\n").bot
    hook = bot.hook("restart")
    assert hook == HookConfig(url="http://bot/admin/restart", bearer_token_env="SUPABASE_SERVICE_ROLE_KEY")
    assert describe_hook(hook) == {
        "kind": "http", "method": "POST", "url": "http://bot/admin/restart", "timeout_seconds": 10.0}


def test_hooks_as_commands_and_http_calls(tmp_path: Path) -> None:
    bot = load(tmp_path, """  hooks:
    restart: {command: [systemctl, restart, tradingbot], timeout_seconds: 60, pass_env: [KUBECONFIG]}
    reconcile: {url: "https://bot.internal/admin/reconcile", method: PUT, headers: {X-Desk: eu},
                secret_headers: {X-Api-Key: BOT_ADMIN_KEY}}
""").bot
    restart, reconcile = bot.hook("restart"), bot.hook("reconcile")
    assert restart is not None and restart.command == ["systemctl", "restart", "tradingbot"]
    assert reconcile is not None and reconcile.secret_envs == ["BOT_ADMIN_KEY"] and reconcile.method == "PUT"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("  access_log_format: {format: regex}\n", "bot.access_log_format: Value error, regex: required"),
        ("  access_log_format: {format: regex, regex: '(?P<path>\\\\S+)'}\n",
         "the named group 'status' is required"),
        ("  access_log_format: {format: regex, regex: '(?P<status>\\\\d+)'}\n", "a named group 'path' or 'request'"),
        ("  access_log_format: {format: regex, regex: '(?P<status>\\\\d+) (?P<path>\\\\S+) (?P<host>\\\\S+)'}\n",
         "unknown named group(s) ['host']"),
        ("  access_log_format: {format: regex, regex: '(?P<status>'}\n", "not a regular expression"),
        ("  access_log_format: {format: uvicorn, regex: '(?P<status>\\\\d+) (?P<path>\\\\S+)'}\n",
         "regex: only with format regex"),
        ("  access_log_format: {format: nginx-combined, fields: {status: code}}\n", "fields: only with format json"),
        ("  access_log_format: {format: caddy}\n", "bot.access_log_format.format: Input should be"),
        ("  access_log_format: {fields: {path: null}}\n", "path or request must be mapped"),
        ("  access_log_format: {fields: {status: 'a..b'}}\n", "is not a key or a dotted path"),
        ("  access_log_format: {websocket: {path_regex: '('}}\n", "bot.access_log_format.websocket.path_regex"),
        ("  access_log_format: {client_identity: [cookie]}\n", "client_identity.0: Input should be"),
        ("  hooks: {restart: {}}\n", "bot.hooks.restart: Value error, give exactly one of url"),
        ("  hooks: {restart: {url: 'http://x', command: [x]}}\n", "give exactly one of url"),
        ("  hooks: {restart: {command: 'systemctl restart bot'}}\n", "bot.hooks.restart.command: Input should be"),
        ("  hooks: {restart: {command: ['systemctl restart bot']}}\n", "is one string; give the argv as a list"),
        ("  hooks: {restart: {command: []}}\n", "an argv list with the program first"),
        ("  hooks: {restart: {command: [x], headers: {a: b}}}\n", "only for a url"),
        ("  hooks: {restart: {url: 'http://x', pass_env: [HOME]}}\n", "pass_env: only for a command"),
        ("  hooks: {restart: {url: 'ftp://x'}}\n", "expected an http:// or https:// URL"),
        ("  hooks: {restart: {url: 'http://x', bearer_token_env: 'not a name'}}\n", "not an environment variable"),
        ("  hooks: {restart: {command: [x], timeout_seconds: 0}}\n", "timeout_seconds: Input should be greater"),
        ("  restart_url: http://x\n  hooks: {restart: {command: [x]}}\n",
         "restart_url and hooks.restart are both set: keep hooks.restart only"),
        ("  reconcile_url: nowhere\n", "expected an http:// or https:// URL, got 'nowhere'"),
        ("  health: {degraded_fields: [{path: status}]}\n", "bot.health.degraded_fields.0: Value error, status: give"),
    ],
)
def test_bad_bot_configuration_names_the_key(tmp_path: Path, extra: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load(tmp_path, extra)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_configuration_survives_being_written_back(tmp_path: Path) -> None:
    """What the bench and the stack do: dump the validated section, write it, load it again."""
    bot = load(tmp_path, """  access_log_format: {format: uvicorn, api_path_prefixes: [/api/]}
  hooks: {restart: {command: [systemctl, restart, tradingbot]}, reconcile: {url: "http://bot/r", method: PUT}}
""").bot
    again = type(bot).model_validate(bot.model_dump(mode="json"))
    assert again == bot
