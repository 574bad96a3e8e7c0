"""The mapping is validated at start: every mistake is one line naming the key, in the file or in the
database; raw SQL is checked for its parameters and columns; and the control-API mechanism works against
a real HTTP server."""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from flask import Flask, Response, jsonify, request
from sqlalchemy import insert

from common.config import ConfigError, load_config
from responder.settings import read_bot_control
from sources.botdata import BotData, resolve_entries_hooks
from sources.hooks import HookRefused
from sources.mapping import BotMapping, ControlApiEntries, default_mapping_data
from tests.sources.shapes import NOW
from tests.support.botstate import add_account, add_position, add_profile
from tests.support.wsgi import serve_wsgi

BASE = {
    "bot_db": {"url": "sqlite:///bot.sqlite3"},
    "broker": {"base_url": "http://127.0.0.1:1"},
    "bot": {"base_url": "http://127.0.0.1:2", "access_log": "access.log"},
    "supabase": {"url": "http://127.0.0.1:3"},
}
Mutation = Callable[[dict[str, Any]], None]


def mapping_with(change: Mutation) -> dict[str, Any]:
    mapping = copy.deepcopy(default_mapping_data())
    change(mapping)
    return mapping


def write_config(tmp_path: Path, mapping: Any) -> Path:
    sections = copy.deepcopy(BASE)
    sections["bot_db"]["mapping"] = mapping
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(sections))
    return path


def stale(rules: list[dict[str, Any]]) -> Mutation:
    return lambda m: m["orders"].update(stale=rules)


def query_positions(sql: str, columns: list[str], **params: Any) -> Mutation:
    def change(m: dict[str, Any]) -> None:
        m["queries"] = {"held": {"sql": sql, "columns": columns, "params": params}}
        m["positions"].update(table="held", opened_at=None, closed_at=None)

    return change


MISTAKES: list[tuple[str, Mutation, str]] = [
    ("a stale rule without a clock", stale([{"class": "working"}]), "orders.stale.0.clock: required"),
    ("a working status no rule decides", stale([{"status": ["new"], "clock": "updated_at"}]),
     "orders.stale: working status 'partially_filled' is decided by no rule"),
    ("only a conditional rule for a status",
     lambda m: m["orders"].update(
         order_type="type", stale=[{"class": "working", "order_type": ["limit"], "never": True}]),
     "orders.stale: working status 'new' is decided by no rule without order_type/time_in_force"),
    ("a stale rule on a terminal status", stale([{"status": ["filled"], "never": True}, {"class": "working",
                                                                                        "clock": "updated_at"}]),
     "orders.stale.0.status: 'filled' is not one of orders.statuses.working"),
    ("an order-type rule without the column", stale([{"class": "working", "order_type": ["limit"], "never": True},
                                                     {"class": "working", "clock": "updated_at"}]),
     "orders.stale.0.order_type: needs the column orders.order_type"),
    ("a quarantine word that is not quarantined", lambda m: m["orders"]["quarantine"].update(write="parked"),
     "orders.quarantine.write: 'parked' is not one of orders.statuses.quarantined"),
    ("a status in two classes", lambda m: m["orders"]["statuses"]["terminal"].append("new"),
     "orders.statuses.terminal: 'new' is also in working"),
    ("statuses that differ only by case", lambda m: m["orders"]["statuses"].update(
        case_insensitive=True, terminal=["filled", "FILLED"]),
     "orders.statuses.terminal: 'FILLED' is also in terminal"),
    ("a stop value that is not a stopped value", lambda m: m["profiles"]["entries"].update(stop="paused"),
     "profiles.entries.column.stop: 'paused' is not one of the stopped values"),
    ("an unknown mechanism", lambda m: m["profiles"]["entries"].update(mechanism="carrier_pigeon"),
     "profiles.entries: Input tag 'carrier_pigeon' found using 'mechanism' does not match"),
    ("a lock nobody can lift", lambda m: m["profiles"].update(entries={"mechanism": "lock_table", "table": "locks"}),
     "profiles.entries.lock_table.active: give active or ends_at"),
    ("a control API URL with another placeholder", lambda m: m["profiles"].update(entries={
        "mechanism": "control_api", "stop": {"url": "http://bot/{strategy}/stop"}, "resume": {"url": "http://bot/r"},
        "state": {"call": {"url": "http://bot/s", "method": "GET"}, "field": "state", "stopped": ["stopped"]}}),
     "profiles.entries.control_api.stop.url: the only placeholder is {profile}"),
    ("a control API call that is neither a URL nor a command", lambda m: m["profiles"].update(entries={
        "mechanism": "control_api", "stop": {"timeout_seconds": 2}, "resume": {"url": "http://bot/r"},
        "state": {"call": {"url": "http://bot/s"}, "field": "state", "stopped": ["stopped"]}}),
     "profiles.entries.control_api.stop: Value error, give exactly one of url (an HTTP call) or command"),
    ("a timestamp format nobody knows", lambda m: m.update(timestamps="local"),
     "bot_db.mapping.timestamps: Input should be 'aware', 'naive_utc', 'epoch_seconds' or 'epoch_millis'"),
    ("a reference with a column and a value", lambda m: m["orders"].update(profile={"column": "p", "value": "x"}),
     "orders.profile.column: give exactly one of column (with optional through) or value"),
    ("a profile table and a static list", lambda m: m["profiles"].update(static=[{"id": "a", "account": "b"}]),
     "profiles.table: give exactly one of table or static"),
    ("no way to a broker key id", lambda m: m["accounts"].pop("key_id"),
     "accounts.key_id: give key_id (a column) or key_ids"),
    ("a key nobody knows", lambda m: m["orders"].update(colour="blue"), "bot_db.mapping.orders.colour: unknown key"),
    ("a raw-SQL parameter nobody gives", query_positions("SELECT * FROM positions WHERE qty > :least", ["id"]),
     "queries.held.params: :least is used by the SQL but not given in params"),
    ("a raw-SQL parameter nobody uses", query_positions("SELECT * FROM positions", ["id"], least=0),
     "queries.held.params.least: not used by the SQL"),
    ("a column the query does not declare", query_positions("SELECT id, qty FROM positions", ["id", "qty"]),
     "positions.symbol: 'symbol' is not one of the columns of query 'held'"),
    ("a crypto spelling without its quote", lambda m: m.update(symbols={"crypto_format": "{base}-USD"}),
     "bot_db.mapping.symbols.crypto_format: Value error, '{base}-USD': give {base} then {quote} once each"),
    ("quarantine through a query", lambda m: m.update(queries={"o": {"sql": "SELECT 1", "columns": ["id"]}})
     or m["orders"].update(table="o"), "orders.table: quarantine writes the order's row: it needs a real table"),
]


@pytest.mark.parametrize(("change", "message"), [(c, m) for _, c, m in MISTAKES], ids=[n for n, _, _ in MISTAKES])
def test_each_mapping_mistake_is_one_line_naming_the_key(tmp_path: Path, change: Mutation, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write_config(tmp_path, mapping_with(change)), env={})
    text = str(err.value)
    assert text.startswith(f"{tmp_path / 'config.yml'}: bot_db.mapping") and "\n" not in text, text
    assert message in text, text


def test_a_mapping_file_is_read_relative_to_the_config_and_named_in_errors(tmp_path: Path) -> None:
    (tmp_path / "bot-mapping.yml").write_text(yaml.safe_dump(default_mapping_data()))
    config = load_config(write_config(tmp_path, "bot-mapping.yml"), env={})
    assert config.bot_db.mapping == BotMapping.model_validate(default_mapping_data())
    (tmp_path / "bot-mapping.yml").write_text(yaml.safe_dump(mapping_with(lambda m: m["orders"].pop("statuses"))))
    with pytest.raises(ConfigError, match=r"bot_db\.mapping \(.*bot-mapping\.yml\)\.orders\.statuses: required key"):
        load_config(write_config(tmp_path, "bot-mapping.yml"), env={})
    with pytest.raises(ConfigError, match=r"bot_db\.mapping \(.*nowhere\.yml\): cannot read mapping file"):
        load_config(write_config(tmp_path, "nowhere.yml"), env={})


DATABASE_MISTAKES: list[tuple[str, Mutation, str]] = [
    ("a column the table does not have", lambda m: m["orders"].update(created_at="placed_at"),
     "bot_db.mapping.orders.created_at: no column 'placed_at' in 'orders'"),
    ("a join through a table that does not exist", lambda m: m["orders"].update(
        profile={"through": [{"table": "proposals", "key": "id", "from": "profile_id"}], "column": "strategy_id"}),
     "bot_db.mapping.orders.profile.through.0.table: no table or view 'proposals'"),
    ("a join on a column the joined table lacks", lambda m: m["profiles"].update(
        account={"through": [{"table": "broker_accounts", "key": "profile_id", "from": "account_id"}], "column": "id"}),
     "bot_db.mapping.profiles.account.through.0.key: no column 'profile_id' in 'broker_accounts'"),
    ("a lock table column that does not exist", lambda m: m["profiles"].update(entries={
        "mechanism": "lock_table", "table": "profiles", "active": "locked"}),
     "bot_db.mapping.profiles.entries.active: no column 'locked' in 'profiles'"),
    ("raw SQL that fails", query_positions("SELECT id FROM no_such_table", ["id", "symbol", "qty", "status",
                                                                            "profile_id"]),
     "bot_db.mapping.queries.held.sql: "),
    ("raw SQL missing a declared column", query_positions(
        "SELECT id, symbol, qty FROM positions", ["id", "symbol", "qty", "status", "profile_id"]),
     "bot_db.mapping.queries.held.columns: the query returns no column 'status', 'profile_id'"),
]


@pytest.mark.parametrize(("change", "message"), [(c, m) for _, c, m in DATABASE_MISTAKES],
                         ids=[n for n, _, _ in DATABASE_MISTAKES])
def test_each_mismatch_with_the_database_names_the_key(bot_engine: Any, change: Mutation, message: str) -> None:
    bot = BotData(bot_engine, BotMapping.model_validate(mapping_with(change)), 300, lambda: NOW)
    with pytest.raises(ConfigError) as err:
        bot.check()
    assert str(err.value).startswith(message) and "\n" not in str(err.value), str(err.value)


def test_raw_sql_stands_in_for_a_table_with_its_parameters(bot_engine: Any) -> None:
    engine = bot_engine
    add_account(engine, "acct-1")
    add_profile(engine, "p-1", "acct-1", NOW)
    add_position(engine, "p-1", "AAPL", 5.0, "open", NOW)
    add_position(engine, "p-1", "MSFT", 0.001, "open", NOW)  # dust the query leaves out
    sql = (
        "SELECT p.id, p.profile_id, p.symbol, p.qty, p.status, pr.account_id AS account FROM positions p "
        "JOIN profiles pr ON pr.id = p.profile_id WHERE abs(p.qty) >= :least AND p.opened_at <= :now"
    )

    def change(m: dict[str, Any]) -> None:
        query_positions(sql, ["id", "profile_id", "symbol", "qty", "status", "account"], least=0.01)(m)
        m["positions"].update(account="account")

    bot = BotData(engine, BotMapping.model_validate(mapping_with(change)), 300, lambda: NOW)
    bot.check()
    assert bot.open_quantities() == {"acct-1": {"AAPL": 5.0}}
    assert [p.symbol for p in bot.positions_of("p-1", "AAPL", 5)] == ["AAPL"]


# --- the control API ----------------------------------------------------------------------------------------

def control_app(state: dict[str, Any]) -> Flask:
    """A bot's control API in the way ccxt-style bots have one: basic auth, stop entries, reload, show config."""
    app = Flask("control")
    expected = "Basic " + base64.b64encode(b"ops:s3cret").decode()

    @app.before_request
    def _auth() -> Response | None:
        if request.headers.get("Authorization") != expected:
            return Response("unauthorized", 401)
        return None

    @app.post("/api/v1/<strategy>/stopentry")
    def stop(strategy: str) -> Response:
        state["calls"].append(("stop", strategy))
        state["max_open_trades"] = 0
        return jsonify({"status": "No more entries will occur from now."})

    @app.post("/api/v1/<strategy>/reload_config")
    def reload(strategy: str) -> Response:
        state["calls"].append(("reload", strategy))
        state["max_open_trades"] = 3
        return jsonify({"status": "Reloading config ..."})

    @app.get("/api/v1/<strategy>/show_config")
    def show(strategy: str) -> Response:
        return jsonify({"config": {"max_open_trades": state["max_open_trades"]}, "state": "running"})

    return app


BASIC = "Basic " + base64.b64encode(b"ops:s3cret").decode()


def control_mapping(base: str, variable: str = "BOT_API_AUTHORIZATION") -> dict[str, Any]:
    def change(m: dict[str, Any]) -> None:
        auth = {"secret_headers": {"Authorization": variable}, "timeout_seconds": 2}
        m["profiles"]["entries"] = {
            "mechanism": "control_api",
            "stop": {"url": base + "/api/v1/{profile}/stopentry", **auth},
            "resume": {"url": base + "/api/v1/{profile}/reload_config", **auth},
            "state": {"call": {"url": base + "/api/v1/{profile}/show_config", "method": "GET", **auth},
                      "field": "config.max_open_trades", "stopped": [0]},
        }

    return mapping_with(change)


def control_bot(engine: Any, base: str, session: Any, authorization: str) -> BotData:
    """The gateway with the control API's calls resolved as the responder resolves them at start."""
    mapping = BotMapping.model_validate(control_mapping(base))
    entries = mapping.profiles.entries
    assert isinstance(entries, ControlApiEntries)
    calls = resolve_entries_hooks(entries, {"BOT_API_AUTHORIZATION": authorization})
    return BotData(engine, mapping, 300, lambda: NOW, session, calls)


def test_the_control_api_stops_and_resumes_entries_and_reads_them_back(bot_engine: Any) -> None:
    add_account(bot_engine, "acct-1")
    add_profile(bot_engine, "p-1", "acct-1", NOW)
    state: dict[str, Any] = {"max_open_trades": 3, "calls": []}
    with serve_wsgi(control_app(state)) as base, requests.Session() as session:
        bot = control_bot(bot_engine, base, session, BASIC)
        profile = bot.profile("p-1")
        assert profile is not None and (profile.entries.state, profile.entries.value) == ("enabled", "3")
        stopped = bot.stop_entries("p-1", NOW)
        assert stopped.changed and (stopped.entries.state, stopped.entries.value) == ("stopped", "0")
        assert not bot.stop_entries("p-1", NOW).changed  # already stopped: no second call
        resumed = bot.resume_entries("p-1", NOW)
        assert resumed.changed and resumed.entries.state == "enabled"
        assert state["calls"] == [("stop", "p-1"), ("reload", "p-1")]
        wrong = control_bot(bot_engine, base, session, "Basic b3BzOmd1ZXNz")  # ops:guess
        denied = wrong.profile("p-1")
        assert denied is not None and denied.entries.state == "unknown" and "HTTP 401" in denied.entries.detail
        with pytest.raises(HookRefused, match="HTTP 401"):
            wrong.stop_entries("p-1", NOW)
        assert state["calls"] == [("stop", "p-1"), ("reload", "p-1")]


def test_the_control_apis_credentials_are_required_at_start(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, control_mapping("http://127.0.0.1:9", "OPS_AUTH")), env={})
    missing = r"bot_db\.mapping\.profiles\.entries\.stop: \$OPS_AUTH \(or \$OPS_AUTH_FILE\)"
    with pytest.raises(ConfigError, match=missing):
        read_bot_control(config, {})
    calls = read_bot_control(config, {"OPS_AUTH": BASIC})
    assert sorted(calls) == ["resume", "state.call", "stop"] and calls["stop"].headers == {"Authorization": BASIC}
    assert BASIC not in repr(calls)
    assert read_bot_control(load_config(write_config(tmp_path, default_mapping_data()), env={}), {}) == {}


def test_the_default_mapping_describes_the_simulators_schema(bot_engine: Any) -> None:
    engine = bot_engine
    bot = BotData(engine, BotMapping.model_validate(default_mapping_data()), 300, lambda: NOW)
    bot.check()
    with engine.begin() as conn:
        from sources.botdb import broker_accounts

        conn.execute(insert(broker_accounts).values(id="a", api_key_id="k"))
    assert [(a.id, a.key_id) for a in bot.accounts()] == [("a", "k")]
