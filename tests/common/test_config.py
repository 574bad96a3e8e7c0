from __future__ import annotations

from pathlib import Path

import pytest

from common.broker_secrets import read_broker_secrets
from common.config import ConfigError, load_config, parse_listen, read_secret

REPO = Path(__file__).resolve().parents[2]

MINIMAL = """
bot_db: {url: "sqlite:///bot.sqlite3"}
broker: {base_url: "http://127.0.0.1:1"}
bot: {base_url: "http://127.0.0.1:2", access_log: access.log}
supabase: {url: "http://127.0.0.1:3"}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yml"
    path.write_text(text)
    return path


def test_local_config_is_valid() -> None:
    config = load_config(REPO / "config" / "local.yml", env={})
    assert config.responder is not None and config.exporters is not None and config.simulator is not None
    assert config.responder.mode == "live"
    assert config.bot_db.url == f"sqlite:///{REPO / 'var' / 'bot.sqlite3'}"
    assert config.responder.playbooks == REPO / "responder" / "playbooks.yml"


def test_relative_paths_follow_the_config_file(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL), env={})
    assert config.bot.access_log == tmp_path / "access.log"
    assert config.bot_db.url == f"sqlite:///{tmp_path.resolve() / 'bot.sqlite3'}"


def test_environment_overrides_urls(tmp_path: Path) -> None:
    env = {"BOT_DB_URL": "postgresql://bot@db/bot", "SUPABASE_URL": "https://ref.supabase.co"}
    config = load_config(write(tmp_path, MINIMAL), env=env)
    assert config.bot_db.url == "postgresql://bot@db/bot"
    assert config.supabase.url == "https://ref.supabase.co"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("bot_db: {url: x}\n", "broker: required key is missing"),
        (MINIMAL + "responder: {ledger_url: x, playbooks: p.yml, mode: bogus}\n", "responder.mode: Input should be"),
        (MINIMAL + "exporters: {listen: nowhere}\n", "exporters.listen: Value error, expected host:port"),
        (
            MINIMAL + "exporters: {issuance_interval_seconds: 0}\n",
            "exporters.issuance_interval_seconds: Input should be greater than 0",
        ),
        (
            MINIMAL + "exporters: {ghost_settle_seconds: -1}\n",
            "exporters.ghost_settle_seconds: Input should be greater than or equal to 0",
        ),
        (
            MINIMAL + "exporters: {ghost_settle_orders_limit: 501}\n",
            "exporters.ghost_settle_orders_limit: Input should be less than or equal to 500",
        ),
        (MINIMAL + "surprise: 1\n", "surprise: unknown key"),
        (
            MINIMAL.replace('"http://127.0.0.1:1"', '"127.0.0.1:1"'),
            "broker.base_url: Value error, expected an http:// or https:// URL, got '127.0.0.1:1'",
        ),
        (
            MINIMAL.replace('"http://127.0.0.1:2"', '"bot.internal:8080/api"'),
            "bot.base_url: Value error, expected an http:// or https:// URL",
        ),
        (
            MINIMAL.replace('"http://127.0.0.1:3"', '"ftp://ref.supabase.co"'),
            "supabase.url: Value error, expected an http",
        ),
        ("bot_db: [unclosed\n", "malformed YAML at line 2"),
        ("- a list\n", "expected a mapping at the top level"),
    ],
)
def test_bad_config_is_one_line_naming_the_problem(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text), env={})
    assert message in str(err.value)
    assert str(tmp_path) in str(err.value)
    assert "\n" not in str(err.value)


def test_environment_overrides_are_checked_like_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, MINIMAL), env={"SUPABASE_URL": "ref.supabase.co"})
    assert "supabase.url: Value error, expected an http:// or https:// URL, got 'ref.supabase.co'" in str(err.value)


@pytest.mark.parametrize("value", ["foo", "host:", ":80", "host:99999", "host:http"])
def test_a_listen_address_from_the_command_line_is_one_line_naming_the_option(value: str) -> None:
    with pytest.raises(ConfigError, match=f"^--listen: expected host:port, got '{value}'$"):
        parse_listen(value, "--listen")
    assert parse_listen("127.0.0.1:9808", "--listen") == ("127.0.0.1", 9808)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "absent.yml", env={})


def test_missing_section_is_named(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL), env={})
    with pytest.raises(ConfigError, match="responder: section is missing"):
        config.section("responder")


def test_secrets_come_from_env_or_file(tmp_path: Path) -> None:
    secret_file = tmp_path / "token"
    secret_file.write_text("from-file\n")
    assert read_secret("TOKEN", {"TOKEN": "direct"}) == "direct"
    assert read_secret("TOKEN", {"TOKEN_FILE": str(secret_file)}) == "from-file"
    assert read_secret("TOKEN", {}, required=False) is None
    with pytest.raises(ConfigError, match=r"\$TOKEN \(or \$TOKEN_FILE\) is not set"):
        read_secret("TOKEN", {})


@pytest.mark.parametrize(
    ("exporters", "message"),
    [
        ("{scrape_budget_seconds: 0}", "exporters.scrape_budget_seconds: Input should be greater than 0"),
        (
            "{scrape_budget_seconds: 1.8, ghost_scrape_budget_seconds: 2.0, probe_timeout_seconds: 0.5}",
            "ghost_scrape_budget_seconds (2) must not exceed scrape_budget_seconds (1.8)",
        ),
        (
            "{scrape_budget_seconds: 1.8, ghost_scrape_budget_seconds: 1.5, probe_timeout_seconds: 1.0}",
            "probe_timeout_seconds (1) must be at most half of scrape_budget_seconds (1.8)",
        ),
    ],
)
def test_scrape_budget_must_hold_the_inner_budgets(tmp_path: Path, exporters: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, MINIMAL + f"exporters: {exporters}\n"), env={})
    assert message in str(err.value)


@pytest.mark.parametrize(
    ("broker", "message"),
    [
        ('{account_secret_envs: {"key-1": "NOT A NAME"}}', "key-1: not an environment variable name: 'NOT A NAME'"),
        ('{account_secret_envs: {" ": "SECRET_1"}}', "an API key id is empty"),
        ('{account_secret_envs: ["SECRET_1"]}', "broker.account_secret_envs: Input should be a valid dictionary"),
        ('{secret_env: "$SECRET"}', "broker.secret_env: Value error, not an environment variable name"),
    ],
)
def test_bad_broker_secret_names_are_refused(tmp_path: Path, broker: str, message: str) -> None:
    text = MINIMAL.replace('broker: {base_url: "http://127.0.0.1:1"}', "broker: " + broker[:-1] + ', base_url: "http://x"}')
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text), env={})
    assert message in str(err.value)


def test_each_key_id_gets_its_own_secret_and_the_rest_the_default(tmp_path: Path) -> None:
    text = MINIMAL.replace(
        'broker: {base_url: "http://127.0.0.1:1"}',
        'broker: {base_url: "http://127.0.0.1:1", account_secret_envs: {key-2: SECRET_2, key-3: SECRET_3}}',
    )
    broker = load_config(write(tmp_path, text), env={}).broker
    secrets = read_broker_secrets(broker, {"APCA_API_SECRET_KEY": "default", "SECRET_2": "two"}, required=False)
    assert (secrets.for_key("key-1"), secrets.for_key("key-2"), secrets.for_key("key-3")) == ("default", "two", None)
    assert "default" not in repr(secrets) and "two" not in repr(secrets)
    with pytest.raises(ConfigError, match=r"\$SECRET_3 \(or \$SECRET_3_FILE\) is not set"):
        read_broker_secrets(broker, {"APCA_API_SECRET_KEY": "default", "SECRET_2": "two"}, required=True)
