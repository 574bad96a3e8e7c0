"""Fixtures shared by every test: databases (SQLite and PostgreSQL) and the bot's schema."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from common.db import make_engine
from sources.botdb import create_schema
from tests.support import databases

_skipped_postgres: list[str] = []


@pytest.fixture(scope="session")
def postgres_available() -> None:
    """Skip (loudly) or fail when PostgreSQL does not answer, as REQUIRE_POSTGRES says."""
    problem = databases.postgres_problem()
    if problem is None:
        return
    if databases.postgres_required():
        pytest.fail(f"REQUIRE_POSTGRES=1 but {problem}", pytrace=False)
    _skipped_postgres.append(problem)
    pytest.skip(f"PostgreSQL legs SKIPPED: {problem}")


@pytest.fixture
def postgres_url(postgres_available: None) -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped after the test."""
    with databases.temporary_database() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database URL, once for SQLite and once for PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.sqlite3'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def bot_engine(db_url: str) -> Iterator[Engine]:
    """An engine on a database holding the bot's (empty) schema."""
    engine = make_engine(db_url)
    create_schema(engine)
    yield engine
    engine.dispose()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _skipped_postgres:
        bar = "!" * 78
        terminalreporter.write_line(bar, red=True, bold=True)
        terminalreporter.write_line(f"PostgreSQL legs were SKIPPED: {_skipped_postgres[0]}", red=True, bold=True)
        terminalreporter.write_line("Set TEST_DATABASE_URL or run with REQUIRE_POSTGRES=1 to make this fail.", red=True)
        terminalreporter.write_line(bar, red=True, bold=True)
