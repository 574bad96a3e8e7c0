"""An in-process responder for tests: real ledger (SQLite or PostgreSQL), real bot DB, the Flask test client,
and `drain()` to run the executor's steps synchronously (deterministic, no threads)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import Engine, select
from werkzeug.test import TestResponse

from responder.actions.context import Clock
from responder.actions.registry import Registry
from responder.ledger.records import StepRecord
from responder.ledger.schema import runs, steps
from responder.runtime import Runtime, build_runtime, prepare, utcnow
from responder.settings import load_settings
from responder.web import create_app
from sources.botdb import create_schema
from tests.support.ports import free_port
from tests.support.simulator import merge, write_config

REPO = Path(__file__).resolve().parents[2]
PLAYBOOKS = REPO / "responder" / "playbooks.yml"
WEBHOOK_TOKEN = "test-webhook-token-0123456789abcdef"
OPERATOR_TOKEN = "test-operator-token-0123456789abcdef"
SECRETS = {
    "RESPONDER_WEBHOOK_TOKEN": WEBHOOK_TOKEN,
    "RESPONDER_OPERATOR_TOKEN": OPERATOR_TOKEN,
    "APCA_API_SECRET_KEY": "test-broker-secret",
    "SUPABASE_SERVICE_ROLE_KEY": "test-service-role-key",
}


def sections(tmp_path: Path, db_url: str, **overrides: Any) -> dict[str, Any]:
    """A complete config: bot DB and ledger on `db_url`, nothing listening on the service URLs by default."""
    dead = "http://127.0.0.1:9"  # discard port: connection refused
    base = {
        "bot_db": {"url": db_url, "stale_after_seconds": 300},
        "broker": {"base_url": dead, "connect_timeout_seconds": 0.5, "read_timeout_seconds": 1.0},
        "bot": {"base_url": dead, "access_log": str(tmp_path / "access.log")},
        "supabase": {"url": dead},
        "responder": {
            "listen": f"127.0.0.1:{free_port()}",
            "ledger_url": db_url,
            "playbooks": str(PLAYBOOKS),
            "workers": 1,
            "threads": 2,
            "poll_seconds": 0.05,
            "lease_seconds": 30,
            "rca_dir": str(tmp_path / "rca"),
        },
    }
    return merge(base, overrides)


@dataclass
class Harness:
    runtime: Runtime
    client: FlaskClient

    @property
    def bot(self) -> Engine:
        return self.runtime.services.bot.engine

    @property
    def ledger(self) -> Engine:
        return self.runtime.ledger

    def post(self, payload: Any, token: str | None = WEBHOOK_TOKEN, **kwargs: Any) -> TestResponse:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if isinstance(payload, bytes | str):
            kwargs.setdefault("content_type", "application/json")
            return self.client.post("/alerts", data=payload, headers=headers, **kwargs)
        return self.client.post("/alerts", json=payload, headers=headers, **kwargs)

    def operator(self, method: str, path: str, body: Any = None) -> TestResponse:
        headers = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
        return self.client.open(path, method=method, json=body, headers=headers)

    def drain(self, limit: int = 200) -> int:
        """Run due steps until none is left; return how many were processed."""
        done = 0
        while done < limit and self.runtime.executor.run_once():
            done += 1
        assert done < limit, "steps kept coming"
        return done

    def steps(self, run_id: int | None = None) -> list[StepRecord]:
        query = select(steps).order_by(steps.c.run_id, steps.c.position)
        if run_id is not None:
            query = query.where(steps.c.run_id == run_id)
        with self.ledger.connect() as conn:
            return [StepRecord.from_row(row) for row in conn.execute(query)]

    def step(self, run_id: int, name: str) -> StepRecord:
        return next(s for s in self.steps(run_id) if s.name == name)

    def step_run(self, step_id: int) -> int:
        with self.ledger.connect() as conn:
            return int(conn.execute(select(steps.c.run_id).where(steps.c.id == step_id)).scalar_one())

    def run_ids(self) -> list[int]:
        with self.ledger.connect() as conn:
            return list(conn.execute(select(runs.c.id).order_by(runs.c.id)).scalars())

    def run_state(self, run_id: int) -> str:
        with self.ledger.connect() as conn:
            return str(conn.execute(select(runs.c.state).where(runs.c.id == run_id)).scalar_one())


@contextmanager
def harness(
    tmp_path: Path,
    config: Mapping[str, Any],
    env: Mapping[str, str] | None = None,
    registry: Registry | None = None,
    clock: Clock = utcnow,
) -> Iterator[Harness]:
    path = write_config(tmp_path / "responder.yml", config)
    settings = load_settings(path, {**SECRETS, **(env or {})})
    prepare(settings, registry)
    runtime = build_runtime(settings, registry=registry, clock=clock)
    create_schema(runtime.services.bot.engine)
    try:
        yield Harness(runtime, create_app(runtime).test_client())
    finally:
        runtime.close()
