"""Throwaway PostgreSQL databases on the server at $TEST_DATABASE_URL, for the tests and the benchmarks.

Each database gets a random name and is dropped afterwards; nothing is ever created in the server's
own database.
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


def server_url() -> str:
    return os.environ.get("TEST_DATABASE_URL", DEFAULT_URL)


def conninfo(url: str) -> str:
    """A libpq URL (no SQLAlchemy driver suffix) for psycopg and lib/pq."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def problem() -> str | None:
    """None when the server answers, else one line saying why not."""
    try:
        with psycopg.connect(conninfo(server_url()), connect_timeout=3, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"PostgreSQL at {make_url(server_url()).render_as_string()} does not answer: {exc}".splitlines()[0]
    return None


@contextmanager
def temporary_database(prefix: str = "tbtest") -> Iterator[str]:
    """Create a database with a random name, yield its SQLAlchemy URL (psycopg 3), drop it afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = conninfo(server_url())
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_url(server_url()).set(drivername="postgresql+psycopg", database=name).render_as_string(
            hide_password=False
        )
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
