"""`python -m doctor --suggest` prints a mapping the loader accepts for each hand-built shape and for the
simulator's own schema, and doctor, given it, gets past the database checks (the mapping fits the tables and
columns; the writes rehearse), on SQLite and PostgreSQL."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine

from common.config import SeedConfig
from common.db import make_engine
from doctor.cli import main
from simulator.bot.seed import ensure_seeded
from sources.botdb import create_schema
from sources.mapping import BotMapping
from tests.doctor.conftest import run_doctor
from tests.doctor.test_read_only import doctor_config
from tests.sources.shapes import SHAPES


def _simulator_schema(engine: Engine) -> None:
    create_schema(engine)
    ensure_seeded(engine, SeedConfig(), datetime.now(UTC))


SCHEMAS = {shape.name: shape.create for shape in SHAPES} | {"simulator": _simulator_schema}
# what doctor says of each suggestion past the schema: mistakes a suggestion cannot know better
PASSES = ("tables and columns", "timestamp columns", "reference orders.profile", "write orders.quarantine")


def suggest(config: Path) -> tuple[int, str]:
    out = io.StringIO()
    return main(["--config", str(config), "--suggest"], env={}, out=out), out.getvalue()


@pytest.mark.parametrize("schema", list(SCHEMAS))
def test_the_suggestion_validates_and_gets_doctor_past_the_schema(schema: str, db_url: str, tmp_path: Path) -> None:
    engine = make_engine(db_url)
    try:
        SCHEMAS[schema](engine)
    finally:
        engine.dispose()
    code, text = suggest(doctor_config(tmp_path, db_url, None))
    assert code == 0, text
    data: dict[str, Any] = yaml.safe_load(text)
    BotMapping.model_validate(data)  # the loader accepts it as it is
    (tmp_path / "bot-mapping.yml").write_text(text, encoding="utf-8")
    config = doctor_config(tmp_path, db_url, None)
    sections = yaml.safe_load(config.read_text(encoding="utf-8"))
    sections["bot_db"]["mapping"] = "bot-mapping.yml"
    config.write_text(yaml.safe_dump(sections), encoding="utf-8")
    outcome = run_doctor(config, {})
    for check in PASSES:
        assert "| ok " in outcome.row(check), outcome.output
    assert "write profiles.entries" in outcome.output


def test_a_configuration_that_does_not_validate_yet_is_still_suggested_from(bot_engine: Engine,
                                                                            tmp_path: Path) -> None:
    url = str(bot_engine.url.render_as_string(hide_password=False))
    config = doctor_config(tmp_path, url, {"orders": {"table": "orders"}})  # an unfinished mapping
    code, text = suggest(config)
    assert code == 0 and "table: orders" in text and "table: profiles" in text


def test_an_empty_database_still_gets_a_mapping_the_loader_accepts(db_url: str, tmp_path: Path) -> None:
    engine = make_engine(db_url)
    with engine.connect():
        pass  # the database exists, with no table
    engine.dispose()
    code, text = suggest(doctor_config(tmp_path, db_url, None))
    assert code == 0 and "no orders table found" in text
    BotMapping.model_validate(yaml.safe_load(text))
