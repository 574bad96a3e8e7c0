"""Transient versus definite failures of an action's target.

A *transient* failure is one where the target gave no answer: a connection error or timeout, a 5xx or a
429 from the bot database, the broker or the bot's hooks. The step is retried with backoff, its pending
retry held in the ledger (restart-safe), for at most ``responder.retry.max_seconds``. Anything else — a
definite refusal (403 insufficient funds, a 4xx, a write that changed nothing, a missing row) — fails the
step at once.

Actions raise `TransientError` where they see such an answer themselves (the bot's hooks:
`HookUnavailable`); the executor also maps the library errors that mean "no answer" with `as_transient`:
`BrokerUnavailable` for a timeout, a connection error, a 5xx or a 429 (never 401 or an unreadable body),
`HookUnavailable` (the same for the bot's hooks and control API, wherever an action meets it), a
database error that is a lost or refused connection, a lock or statement timeout, ``database is locked``,
and transport errors of ``requests``. Compare-and-set stays the guard: a retried step re-runs its
precheck, and a write that had committed before the connection dropped is found done (``unchanged``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any, Literal

import psycopg
import requests
from sqlalchemy import exc as sa

from sources.broker import BrokerUnavailable
from sources.hooks import HookUnavailable

TransientKind = Literal[
    "database_unavailable",
    "broker_timeout",
    "broker_connection",
    "broker_server_error",
    "broker_rate_limited",
    "http_timeout",
    "http_connection",
    "http_server_error",
    "http_rate_limited",
    "hook_timeout",
    "hook_connection",
    "hook_server_error",
    "hook_rate_limited",
]
BROKER_TRANSIENT = ("timeout", "connection", "server_error", "rate_limited")
SQLITE_TRANSIENT = ("database is locked", "database is busy", "unable to open database file", "disk i/o error")


class TransientError(Exception):
    """The target did not answer; retrying later may succeed. The message never carries secrets."""

    def __init__(self, kind: TransientKind, detail: str, output: Mapping[str, Any] | None = None) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind: TransientKind = kind
        self.detail = detail
        self.output = dict(output) if output else None  # what is known of the attempt (recorded on the step)


def as_transient(exc: BaseException) -> TransientError | None:
    """`exc` as a transient failure, or None when it is definite (or unknown: unknown errors fail the step)."""
    if isinstance(exc, TransientError):
        return exc
    if isinstance(exc, BrokerUnavailable):
        return TransientError(f"broker_{exc.kind}", str(exc)) if exc.kind in BROKER_TRANSIENT else None  # type: ignore[arg-type]
    if isinstance(exc, HookUnavailable):  # e.g. the bot's control API stopping entries answered 5xx
        return TransientError(f"hook_{exc.kind}", str(exc))  # type: ignore[arg-type]
    if isinstance(exc, sa.SQLAlchemyError):
        return _database(exc)
    if isinstance(exc, requests.Timeout):
        return TransientError("http_timeout", type(exc).__name__)
    if isinstance(exc, requests.ConnectionError):
        return TransientError("http_connection", type(exc).__name__)
    return None


def _database(exc: sa.SQLAlchemyError) -> TransientError | None:
    """A database that did not answer: a lost or refused connection, a pool, lock or statement timeout."""
    orig = getattr(exc, "orig", None)
    first_line = str(orig if orig is not None else exc).strip().splitlines()
    detail = f"{type(orig or exc).__name__}: {first_line[0] if first_line else ''}"[:300]
    if isinstance(exc, sa.DBAPIError) and exc.connection_invalidated:
        return TransientError("database_unavailable", detail)
    if isinstance(exc, sa.TimeoutError | sa.DisconnectionError):
        return TransientError("database_unavailable", detail)
    if isinstance(orig, psycopg.OperationalError | psycopg.InterfaceError):
        return TransientError("database_unavailable", detail)  # connection, lock/statement timeout, deadlock
    if isinstance(orig, sqlite3.OperationalError) and str(orig).lower().startswith(SQLITE_TRANSIENT):
        return TransientError("database_unavailable", detail)
    return None
