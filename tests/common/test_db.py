"""SQLite engines: how long each waits for another process's write lock."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, text

from common.db import SQLITE_BUSY_TIMEOUT_MS, make_engine
from responder.ledger.store import LEDGER_SQLITE_BUSY_MS, make_ledger_engine


def busy_timeout(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("PRAGMA busy_timeout")).scalar_one())


def test_the_ledger_waits_less_for_the_write_lock_than_other_engines(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    assert busy_timeout(make_engine(url)) == SQLITE_BUSY_TIMEOUT_MS
    assert busy_timeout(make_engine(url, sqlite_busy_ms=1234)) == 1234
    assert busy_timeout(make_ledger_engine(url)) == LEDGER_SQLITE_BUSY_MS < SQLITE_BUSY_TIMEOUT_MS
