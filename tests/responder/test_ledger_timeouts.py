"""A locked ledger answers 503 within a bounded time and readiness says so (PostgreSQL, a table really locked)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from tests.responder.harness import harness, sections
from tests.responder.payloads import alert, ghost_labels, notification
from tests.support import databases

RELEASE_AFTER_SECONDS = 8.0  # the lock is released by then: a responder without timeouts would wait that long


@contextmanager
def locked_table(db_url: str, table: str) -> Iterator[None]:
    """Hold an ACCESS EXCLUSIVE lock on `table` (as a migration or a stuck session would) for a bounded time."""
    conn = psycopg.connect(databases.conninfo(db_url))
    conn.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
    release = threading.Timer(RELEASE_AFTER_SECONDS, conn.rollback)
    release.start()
    try:
        yield
    finally:
        release.cancel()
        conn.rollback()
        conn.close()


@pytest.mark.postgres
def test_a_locked_ledger_answers_503_quickly_and_readiness_reports_it(tmp_path: Path, postgres_url: str) -> None:
    config = sections(tmp_path, postgres_url, responder={"ledger_lock_timeout_seconds": 1.0})
    with harness(tmp_path, config) as h:
        assert h.client.get("/health/ready").status_code == 200
        with locked_table(postgres_url, "responder_alerts"):
            started = time.monotonic()
            ready = h.client.get("/health/ready")
            ready_took = time.monotonic() - started
            started = time.monotonic()
            answer = h.post(notification(alert(ghost_labels())))
            post_took = time.monotonic() - started
            metrics = h.client.get("/metrics").text
        assert ready.status_code == 503 and ready.get_json()["checks"]["ledger_reachable"] is False
        assert ready_took < 2.0, ready_took
        assert answer.status_code == 503, answer.get_data(as_text=True)
        assert post_took < 3.0, post_took
        assert 'tradingbot_responder_notifications_total{outcome="ledger_unavailable"} 1.0' in metrics
        assert "tradingbot_responder_ledger_up 0.0" in metrics
        # once the lock is gone the same delivery is recorded: nothing was lost
        assert h.post(notification(alert(ghost_labels()))).status_code == 200
        assert h.client.get("/health/ready").status_code == 200
