"""The responder changes made for `make bench` keep their safety properties (docs/performance.md):
a pooled ledger connection that died is never used for a delivery, and executors give way to deliveries
only for a bounded time."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import psycopg
import pytest
from sqlalchemy import func, select

from bench.payloads import BodyStream, recorded_bodies, templates
from responder.ledger.ingest import Delivery, record_alerts
from responder.ledger.schema import alerts
from responder.ledger.store import PING_IF_IDLE_SECONDS, create_schema, make_ledger_engine
from responder.payload import parse_notification
from responder.wakeup import Wakeup
from tests.support.databases import admin_url


def _terminate(pid: int) -> None:
    conninfo = admin_url().replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", (pid,))


def _record(engine: object, body: bytes) -> int:
    notification = parse_notification(body)
    recorded = record_alerts(engine, notification.alerts, Delivery(), lambda *_: None, "live",  # type: ignore[arg-type]
                             datetime.now(UTC))
    return len(recorded)


@pytest.mark.postgres
def test_a_delivery_on_a_connection_that_just_died_is_retried_once(postgres_url: str) -> None:
    engine = make_ledger_engine(postgres_url)
    create_schema(engine)
    stream = BodyStream(templates(recorded_bodies()), "dead")
    _record(engine, stream.next())
    with engine.connect() as conn:  # the pooled connection, used a moment ago: no ping before the next use
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
    _terminate(pid)
    assert _record(engine, stream.next()) == 1  # recorded on a fresh connection
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(alerts)).scalar_one() == 3
    engine.dispose()


@pytest.mark.postgres
def test_an_idle_connection_is_pinged_and_replaced_when_dead(postgres_url: str) -> None:
    engine = make_ledger_engine(postgres_url)
    with engine.connect() as conn:
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
    _terminate(pid)
    time.sleep(PING_IF_IDLE_SECONDS + 0.2)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one() != pid
    engine.dispose()


def test_executors_wait_for_deliveries_in_progress_but_not_longer_than_asked() -> None:
    wakeup = Wakeup()
    started = time.monotonic()
    wakeup.yield_to_deliveries(5.0)
    assert time.monotonic() - started < 0.5  # nothing in flight: no wait
    with wakeup.delivery():
        started = time.monotonic()
        wakeup.yield_to_deliveries(0.2)
        assert 0.15 <= time.monotonic() - started < 1.0  # bounded
    released = threading.Event()

    def deliver() -> None:
        with wakeup.delivery():
            released.wait(5)

    thread = threading.Thread(target=deliver)
    thread.start()
    time.sleep(0.05)
    threading.Timer(0.2, released.set).start()
    started = time.monotonic()
    wakeup.yield_to_deliveries(5.0)
    assert 0.1 <= time.monotonic() - started < 2.0  # woken when the delivery ended
    thread.join(5)
