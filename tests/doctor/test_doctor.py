"""`python -m doctor` is green on the simulator's bot and names each seeded mapping mistake in one line, on
SQLite and PostgreSQL, over real HTTP to the simulator's bot, broker and Supabase."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sources.mapping import default_mapping_data
from tests.doctor.conftest import config_with, run_doctor, wait_for_access_log
from tests.support.ports import free_port
from tests.support.shapes import OTHER_SHAPES, shape_cases, shape_sections
from tests.support.simulator import RunningSimulator, simulator_on_backend


def test_green_on_the_simulators_bot(doctor_sim: RunningSimulator) -> None:
    outcome = run_doctor(doctor_sim.config_path, doctor_sim.env)
    assert outcome.code == 0, outcome.output
    assert outcome.last_line == "doctor: ready, nothing blocks"
    for check in ("tables and columns", "values orders.status", "query stale_backlog", "index for stale orders",
                  "write profiles.entries", "write orders.quarantine", "access log", "bot health",
                  "probe unauthenticated trade", "probe authenticated status", "broker", "supabase auth"):
        assert "| ok " in outcome.row(check), outcome.output


def test_an_endpoint_not_configured_is_skipped(doctor_sim: RunningSimulator, tmp_path: Path) -> None:
    config = config_with(doctor_sim, tmp_path, bot={"access_log": None})
    env = {k: v for k, v in doctor_sim.env.items() if not k.startswith("PROBE_USER")}
    outcome = run_doctor(config, env)
    assert outcome.code == 0, outcome.output
    assert "| skipped " in outcome.row("access log") and "| skipped " in outcome.row("probe authenticated status")


def mapping_with(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    mapping = copy.deepcopy(default_mapping_data())
    change(mapping)
    return mapping


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(mapping: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = mapping
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[last] = value

    return change


def _raw_positions(mapping: dict[str, Any]) -> None:
    mapping["queries"] = {"position_rows": {
        "sql": "SELECT id, profile_id, symbol, qty, opened_at, closed_at FROM positions",
        "columns": ["id", "profile_id", "symbol", "qty", "status", "opened_at", "closed_at"]}}
    mapping["positions"]["table"] = "position_rows"


def _no_new(mapping: dict[str, Any]) -> None:
    mapping["orders"]["statuses"]["working"].remove("new")


def _park(mapping: dict[str, Any]) -> None:
    mapping["orders"]["statuses"]["quarantined"].append("parked")
    mapping["orders"]["quarantine"]["write"] = "parked"


ENTRIES = {"mechanism": "column", "column": "status", "touch": "updated_at"}
CLOSED = "http://127.0.0.1:{port}"
# mistake -> (config sections to merge, or a mapping change) -> what the one line must say
MISTAKES: dict[str, tuple[dict[str, Any], str]] = {
    "missing column": ({"mapping": _set("orders.created_at", "placed_at")},
                       "bot_db.mapping.orders.created_at: no column 'placed_at' in 'orders'"),
    "missing table": ({"mapping": _set("orders.table", "order_rows")},
                      "bot_db.mapping.orders.table: no table or view 'order_rows'"),
    "unmapped status": ({"mapping": _no_new},
                        "orders.status: value 'new' is not mapped (bot_db.mapping orders.statuses)"),
    "unmapped enabled value": ({"mapping": _set("profiles.entries", {
        **ENTRIES, "enabled": ["running"], "stopped": ["inactive"], "stop": "inactive", "resume": "running"})},
        "profiles.entries: value 'active' is not mapped"),
    "write refused (wrong stop value)": ({"mapping": _set("profiles.entries", {
        **ENTRIES, "enabled": ["active"], "stopped": ["inactive", "paused"], "stop": "paused", "resume": "active"})},
        "bot_db.mapping.profiles.entries.stop: the write for profile"),
    "wrong profile id column": ({"mapping": _set("profiles.id", "account_id")},
                                "bot_db.mapping.orders.profile -> profiles.id/account: none of the"),
    "wrong order id column": ({"mapping": _set("orders.id", "symbol")}, "bot_db.mapping.orders.id: "),
    "wrong join": ({"mapping": _set("orders.profile", {
        "through": [{"table": "broker_accounts", "key": "id", "from": "profile_id"}], "column": "id"})},
        "bot_db.mapping.orders.profile: none of the"),
    "wrong clock column type": ({"mapping": _set("orders.stale.1.clock", "symbol")},
                                "bot_db.mapping.orders.stale.1.clock: column 'symbol' of 'orders' is VARCHAR(32), "
                                "not a timestamp"),
    "raw SQL missing a result column": ({"mapping": _raw_positions},
                                        "bot_db.mapping.queries.position_rows.columns: the query returns no column "
                                        "'status'"),
    "quarantine word the column refuses": ({"mapping": _park},
                                           "bot_db.mapping.orders.quarantine.write: writing 'parked' failed"),
    "log format mismatch": ({"bot": {"access_log_format": {"format": "nginx-combined"}}},
                            "bot.access_log_format: none of the last"),
    "log regex mismatch": ({"bot": {"access_log_format": {"format": "regex",
                                                          "regex": r"^(?P<status>\d{3}) (?P<path>\S+)$"}}},
                           "bot.access_log_format: none of the last"),
    "bot health down": ({"bot": {"base_url": CLOSED}}, "bot.base_url: /health/ready did not answer"),
    "broker unreachable": ({"broker": {"base_url": CLOSED}}, "broker: account 'acct-1'"),
    "broker key unknown": ({"mapping": _set("accounts.key_ids", {"acct-1": "AKNOSUCHKEY0000001"})},
                           "broker: account 'acct-1' (key id AKNOSUCHKEY0000001)"),
    "supabase down": ({"supabase": {"url": CLOSED}}, "supabase.url: "),
    "database unreachable": ({"bot_db": {"url": "sqlite:////nonexistent-directory/bot.sqlite3"}},
                             "bot_db.url: no database file '/nonexistent-directory/bot.sqlite3'"),
    "config invalid": ({"mapping": _set("orders.quarantine.write", "parked")},
                       "bot_db.mapping.orders.quarantine.write: 'parked' is not one of"),
}


@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_each_seeded_mistake_is_named_in_one_line(doctor_sim: RunningSimulator, tmp_path: Path, mistake: str) -> None:
    change, expected = MISTAKES[mistake]
    sections: dict[str, Any] = {}
    for key, value in change.items():
        if key == "mapping":
            sections["bot_db"] = {"mapping": mapping_with(value)}
        elif key == "bot_db":
            sections["bot_db"] = value
        else:
            sections[key] = _with_port(value)
    outcome = run_doctor(config_with(doctor_sim, tmp_path, **sections), doctor_sim.env)
    assert outcome.code == 1, outcome.output
    assert outcome.last_line.startswith("doctor: BLOCKED "), outcome.output
    assert expected in outcome.last_line, outcome.output


def test_a_missing_broker_secret_is_named(doctor_sim: RunningSimulator) -> None:
    env = {k: v for k, v in doctor_sim.env.items() if k != "APCA_API_SECRET_KEY"}
    outcome = run_doctor(doctor_sim.config_path, env)
    assert outcome.code == 1 and "$APCA_API_SECRET_KEY (or $APCA_API_SECRET_KEY_FILE) is not set" in outcome.last_line


def _with_port(section: dict[str, Any]) -> dict[str, Any]:
    closed = CLOSED.format(port=free_port())
    return {key: (closed if value == CLOSED else value) for key, value in section.items()}


@pytest.fixture(scope="module", params=shape_cases(OTHER_SHAPES))
def shape_sim(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSimulator]:
    """The simulator with its bot in another shape (config/shapes/NAME.yml's mapping and access log format)."""
    shape, backend = request.param
    with simulator_on_backend(request, tmp_path_factory.mktemp(f"doctor-{shape}-{backend}"), backend,
                              **shape_sections(shape)) as running:
        wait_for_access_log(running)
        yield running


def test_green_on_each_other_shape(shape_sim: RunningSimulator) -> None:
    outcome = run_doctor(shape_sim.config_path, shape_sim.env)
    assert outcome.code == 0, outcome.output
    assert outcome.last_line == "doctor: ready, nothing blocks"
    for check in ("tables and columns", "values orders.status", "query stale_backlog", "write profiles.entries",
                  "write orders.quarantine", "access log", "broker"):
        assert "| ok " in outcome.row(check), outcome.output


DEGRADED_FIELDS = [{"path": "checks.order_sync", "healthy": ["ok"]}, {"path": "checks.broker", "healthy": ["ok"]}]


@pytest.mark.parametrize(("ready_status", "code", "expected"), [
    (200, 0, "| warn   | 200, degraded: checks.order_sync (bot.health.degraded_fields)"),
    (503, 1, "bot: /health/ready answered HTTP 503: the bot is not ready"),
])
def test_a_degraded_bot_warns_while_ready_and_blocks_when_not(doctor_sim: RunningSimulator, tmp_path: Path,
                                                              ready_status: int, code: int, expected: str) -> None:
    config = config_with(doctor_sim, tmp_path, bot={"health": {"degraded_fields": DEGRADED_FIELDS}})
    doctor_sim.inject("bot-degraded", field="order_sync", ready_status=ready_status)
    try:
        outcome = run_doctor(config, doctor_sim.env)
    finally:
        doctor_sim.reset()
    assert outcome.code == code, outcome.output
    assert expected in (outcome.row("bot health") if code == 0 else outcome.last_line), outcome.output
