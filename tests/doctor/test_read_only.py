"""`python -m doctor` changes nothing in the bot's database: every table's row count and a checksum of its
rows are the same before and after a run that rehearses the writes (on a quiet database: no simulator
writes to it meanwhile), for the simulator's schema and each hand-built shape, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, inspect, text

from common.config import SeedConfig
from common.db import make_engine
from simulator.bot.seed import ensure_seeded
from sources.botdb import create_schema
from tests.doctor.conftest import run_doctor
from tests.sources.shapes import SHAPES, Shape
from tests.sources.test_mapping import BASIC, control_app, control_mapping
from tests.support.ports import free_port
from tests.support.simulator import write_config
from tests.support.wsgi import serve_wsgi


def snapshot(engine: Engine) -> dict[str, tuple[int, str]]:
    """Per table: rows and a checksum of their contents (order-independent)."""
    found = {}
    with engine.connect() as conn:
        for table in sorted(inspect(conn).get_table_names()):
            rows = sorted(repr(tuple(row)) for row in conn.execute(text(f'SELECT * FROM "{table}"')))  # noqa: S608
            found[table] = (len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest())
    return found


def doctor_config(tmp_path: Path, db_url: str, mapping: dict[str, Any] | None) -> Path:
    closed = f"http://127.0.0.1:{free_port()}"
    bot_db: dict[str, Any] = {"url": db_url, **({"mapping": mapping} if mapping else {})}
    return write_config(tmp_path / "doctor.yml", {
        "bot_db": bot_db, "broker": {"base_url": closed}, "bot": {"base_url": closed}, "supabase": {"url": closed},
    })


def test_the_simulators_schema_is_left_as_it_was(db_url: str, tmp_path: Path) -> None:
    engine = make_engine(db_url)
    try:
        create_schema(engine)
        ensure_seeded(engine, SeedConfig(), datetime.now(UTC))
        before = snapshot(engine)
        outcome = run_doctor(doctor_config(tmp_path, db_url, None), {})
        assert "| ok " in outcome.row("write profiles.entries") and "| ok " in outcome.row("write orders.quarantine")
        assert snapshot(engine) == before
        assert sum(rows for rows, _ in before.values()) > 0
    finally:
        engine.dispose()


@pytest.mark.parametrize("shape", SHAPES, ids=[shape.name for shape in SHAPES])
def test_each_shape_is_left_as_it_was(shape: Shape, db_url: str, tmp_path: Path) -> None:
    engine = make_engine(db_url)
    try:
        shape.create(engine)
        before = snapshot(engine)
        outcome = run_doctor(doctor_config(tmp_path, db_url, shape.mapping), {})
        assert "write profiles.entries" in outcome.output, outcome.output
        assert snapshot(engine) == before
    finally:
        engine.dispose()


def test_entries_through_the_control_api_are_only_read(db_url: str, tmp_path: Path) -> None:
    """The bot's control API is never asked to stop or resume (that cannot be rolled back): only its state is
    read, with the configured secret; a secret not set, or refused, blocks."""
    engine = make_engine(db_url)
    state: dict[str, Any] = {"max_open_trades": 3, "calls": []}
    try:
        create_schema(engine)
        ensure_seeded(engine, SeedConfig(), datetime.now(UTC))
        with serve_wsgi(control_app(state)) as base:
            config = doctor_config(tmp_path, db_url, control_mapping(base))
            read = run_doctor(config, {"BOT_API_AUTHORIZATION": BASIC})
            unset = run_doctor(config, {})
            refused = run_doctor(config, {"BOT_API_AUTHORIZATION": "Basic b3BzOmd1ZXNz"})
    finally:
        engine.dispose()
    assert "| ok " in read.row("write profiles.entries") and "5 enabled" in read.row("write profiles.entries")
    assert unset.last_line.startswith("doctor: BLOCKED bot_db.mapping.profiles.entries.stop: $BOT_API_AUTHORIZATION "
                                      "(or $BOT_API_AUTHORIZATION_FILE) is not set")
    assert refused.last_line.startswith("doctor: BLOCKED bot_db.mapping.profiles.entries.state: profile 'p-1': ")
    assert "HTTP 401" in refused.last_line
    assert state["calls"] == []  # neither stop nor resume was called
