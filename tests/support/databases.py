"""Throwaway PostgreSQL databases for the PostgreSQL legs of the tests (the stack's helpers).

The server is `TEST_DATABASE_URL` (default postgresql://postgres@127.0.0.1:5432/postgres). When no server
answers, PostgreSQL legs are skipped with a loud notice, unless REQUIRE_POSTGRES=1, where that is a failure.
"""

from __future__ import annotations

import os

from stack.databases import conninfo, temporary_database
from stack.databases import problem as postgres_problem
from stack.databases import server_url as admin_url

__all__ = ["admin_url", "conninfo", "postgres_problem", "postgres_required", "temporary_database"]


def postgres_required() -> bool:
    return os.environ.get("REQUIRE_POSTGRES", "") not in ("", "0")
