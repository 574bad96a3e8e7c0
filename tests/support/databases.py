"""Throwaway PostgreSQL databases for the PostgreSQL legs of the tests.

The server is `TEST_DATABASE_URL` (default postgresql://postgres@127.0.0.1:5432/postgres). Each test
database is created with a random name and dropped afterwards. When no server answers, PostgreSQL legs
are skipped with a loud notice, unless REQUIRE_POSTGRES=1, where that is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def admin_url() -> str:
    return os.environ.get("TEST_DATABASE_URL", DEFAULT_URL)


def postgres_required() -> bool:
    return os.environ.get("REQUIRE_POSTGRES", "") not in ("", "0")


def _conninfo(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def postgres_problem() -> str | None:
    """None when the server answers, else one line saying why not."""
    try:
        with psycopg.connect(_conninfo(admin_url()), connect_timeout=3, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"PostgreSQL at {make_url(admin_url()).render_as_string()} does not answer: {exc}".splitlines()[0]
    return None


@contextmanager
def temporary_database(prefix: str = "tbtest") -> Iterator[str]:
    """Create a fresh database, yield its SQLAlchemy URL (psycopg 3 driver), then drop it."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    base = make_url(admin_url())
    with psycopg.connect(_conninfo(admin_url()), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield base.set(drivername="postgresql+psycopg", database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(_conninfo(admin_url()), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
