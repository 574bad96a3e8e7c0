"""Make a ledger really unwritable for a while, as a database outage would."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from tests.support import databases


@contextmanager
def ledger_outage(db_url: str, tmp_path: Path) -> Iterator[None]:
    """Make the ledger really unwritable: PostgreSQL refuses connections; SQLite is locked by another process."""
    url = make_url(db_url)
    if url.get_backend_name() == "postgresql":
        name = url.database
        with psycopg.connect(databases.conninfo(databases.admin_url()), autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
            try:
                yield
            finally:
                admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        return
    script = (
        "import sqlite3, sys\n"
        "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); sys.stdin.read()\n"
    )
    locker = subprocess.Popen([sys.executable, "-c", script, str(url.database)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE)
    try:
        assert locker.stdout is not None and locker.stdout.readline().strip() == b"locked"
        yield
    finally:
        locker.communicate(timeout=10)
