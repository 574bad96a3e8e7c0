"""Two responder replicas (real processes under gunicorn, real HTTP) sharing one PostgreSQL ledger: the kill
switch engaged from both at once, and its two-person flatten approved from both at once, act once."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import Engine, select

from common.db import make_engine
from responder.ledger.records import StepRecord
from responder.ledger.schema import kill_switch, steps
from sources.botdb import create_schema
from tests.responder.harness import sections
from tests.responder.processes import ResponderProcess, responder_process, run_cli, wait_for
from tests.responder.servers import FakeBroker
from tests.support.botstate import add_account, add_profile, profile_account
from tests.support.ports import free_port
from tests.support.wsgi import serve_wsgi


@pytest.fixture
def bot_db(postgres_url: str) -> Iterator[Engine]:
    engine = make_engine(postgres_url)
    create_schema(engine)
    add_account(engine, "acct-1", "key-acct-1")
    for profile in ("p-1", "p-2"):
        add_profile(engine, profile, "acct-1", datetime.now(UTC))
    yield engine
    engine.dispose()


def at_once(calls: list[Callable[[], requests.Response]]) -> list[int]:
    """Run every call at the same moment (one thread each, behind a barrier); their status codes in order."""
    barrier, codes = threading.Barrier(len(calls)), [0] * len(calls)

    def run(index: int) -> None:
        barrier.wait(10)
        codes[index] = calls[index]().status_code

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return codes


def ledger_steps(engine: Engine) -> list[StepRecord]:
    with engine.connect() as conn:
        return [StepRecord.from_row(r) for r in conn.execute(select(steps).order_by(steps.c.run_id, steps.c.position))]


def decide(replica: ResponderProcess, step_id: int, by: str) -> Callable[[], requests.Response]:
    return lambda: replica.operator("POST", f"/approvals/{step_id}", {"decision": "approve", "by": by})


def test_two_replicas_engage_once_and_a_flatten_approved_on_both_places_each_order_once(
    tmp_path: Path, postgres_url: str, bot_db: Engine
) -> None:
    fake = FakeBroker()
    fake.positions[("key-acct-1", "MSFT")] = (50.0, 100.0)
    fake.add_order("key-acct-1", "o-working", "c-1", "new")
    with serve_wsgi(fake.app()) as broker_url:
        first = sections(tmp_path, postgres_url, broker={"base_url": broker_url}, responder={"workers": 2})
        second = {**first, "responder": {**first["responder"], "listen": f"127.0.0.1:{free_port()}"}}
        with responder_process(tmp_path, first, name="a") as a, responder_process(tmp_path, second, name="b") as b:
            body: dict[str, Any] = {"level": "flatten", "reason": "drill"}
            engaged = at_once([lambda r=r, n=n: r.operator("POST", "/kill-switch", {**body, "by": f"op-{n}"})  # type: ignore[misc]
                               for n, r in enumerate((a, b, a, b))])
            assert sorted(engaged) == [200, 200, 200, 201]
            ledger = make_engine(postgres_url)
            try:
                flatten = wait_for(lambda: next((s for s in ledger_steps(ledger) if s.name == "flatten"
                                                 and s.state == "awaiting_approval"), None), what="flatten parked")
                assert sorted(at_once([decide(a, flatten.id, "alice"), decide(b, flatten.id, "alice")])) == [202, 409]
                assert sorted(at_once([decide(a, flatten.id, "bob"), decide(b, flatten.id, "carol")])) == [200, 409]
                wait_for(lambda: any(s.name == "flatten" and s.state == "succeeded" for s in ledger_steps(ledger)),
                         what="flatten done")
                wait_for(lambda: not [s for s in ledger_steps(ledger) if s.state == "running"], what="idle")
                done = ledger_steps(ledger)
                with ledger.connect() as conn:
                    engagements = conn.execute(select(kill_switch)).all()
            finally:
                ledger.dispose()
            # the CLI talks to either replica: engaging the level in force again answers the engagement
            again = run_cli(["killswitch", "engage", "flatten", "--by", "dave", "--reason", "cli", "--url", b.url])
            status = run_cli(["killswitch", "status", "--url", a.url])
            again_out, status_out = (json.loads(p.communicate(timeout=60)[0]) for p in (again, status))
            assert again.returncode == 0 and again_out["result"] == "already_engaged"
            assert [e["level"] for e in status_out["in_force"]] == ["flatten"]
            refused = run_cli(["killswitch", "engage", "stop-entries", "--profile", "p-9", "--by", "dave",
                               "--url", a.url])
            refused.communicate(timeout=60)
            assert refused.returncode == 1
    assert len(engagements) == 1 and len({s.run_id for s in done}) == 1
    assert [s.name for s in done] == ["stop-entries", "cancel-working", "flatten"]
    assert all(s.state == "succeeded" for s in done), [(s.name, s.state, s.error) for s in done]
    assert fake.calls.count("POST /v2/orders") == 1 and fake.cancelled == ["o-working"]
    assert not fake.positions
    assert [profile_account(bot_db, p) for p in ("p-1", "p-2")] == [("acct-1", "inactive")] * 2
