"""Small helpers for the simulator tests: clients, the bot DB, the access log, bounded waits."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import requests
from sqlalchemy import Engine, select

from common.db import make_engine
from sources.botdata import BotData
from sources.botdb import orders
from sources.broker import BrokerClient
from sources.mapping import default_mapping
from sources.supabase import SupabaseAuth
from tests.support.simulator import RunningSimulator

T = TypeVar("T")


def broker(sim: RunningSimulator, session: requests.Session, account: str = "acct-1",
           timeout: tuple[float, float] = (1.0, 2.0)) -> BrokerClient:
    return BrokerClient(sim.broker_url, f"sim-key-{account}", sim.env["APCA_API_SECRET_KEY"], session, timeout)


def supabase(sim: RunningSimulator, session: requests.Session, anon_key: str | None = None) -> SupabaseAuth:
    return SupabaseAuth(sim.supabase_url, anon_key or sim.env["SUPABASE_ANON_KEY"], session, timeout=5.0)


def probe_token(sim: RunningSimulator, session: requests.Session) -> str:
    """A fresh access token for the probe user, issued over HTTP by the Supabase stand-in."""
    issued = supabase(sim, session).password_grant(
        sim.env["PROBE_USER_EMAIL"], sim.env["PROBE_USER_PASSWORD"], datetime.now(UTC)
    )
    return issued.access_token


@contextmanager
def bot_db(sim: RunningSimulator) -> Iterator[Engine]:
    engine = make_engine(sim.db_url)
    try:
        yield engine
    finally:
        engine.dispose()


def gateway(engine: Engine) -> BotData:
    """The gateway on the simulator's bot database (its schema is the default mapping's)."""
    return BotData(engine, default_mapping(), 300)


def open_positions(engine: Engine) -> dict[tuple[str, str], float]:
    """Signed open quantity per (account, symbol) as the bot's DB records it, read as the exporters read it."""
    held = gateway(engine).open_quantities()
    return {(account, symbol): qty for account, symbols in held.items() for symbol, qty in symbols.items()
            if abs(qty) > 1e-9}


def broker_positions(sim: RunningSimulator, session: requests.Session,
                     accounts: list[str]) -> dict[tuple[str, str], float]:
    return {(account, p.symbol): p.qty for account in accounts for p in broker(sim, session, account).list_positions()}


def accounts_of(engine: Engine) -> list[str]:
    return sorted({pair.account for pair in gateway(engine).profile_accounts()})


def order_row(engine: Engine, order_id: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(select(orders).where(orders.c.id == order_id)).one()


class AccessLog:
    """The access-log lines written after this object was created."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._offset = path.stat().st_size if path.exists() else 0

    def lines(self) -> list[dict[str, Any]]:
        if not self._path.exists():
            return []
        with open(self._path, "rb") as handle:
            handle.seek(self._offset)
            data = handle.read()
        complete = data[: data.rfind(b"\n") + 1]
        return [json.loads(line) for line in complete.splitlines() if line.strip()]


def wait_for(check: Callable[[], T | None], timeout: float = 10.0, interval: float = 0.1) -> T:
    """Poll `check` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


def bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def wait_for_lines(log: AccessLog, enough: Callable[[list[dict[str, Any]]], bool],
                   timeout: float = 20.0) -> list[dict[str, Any]]:
    """Poll the access log until `enough(lines)` holds; return those lines."""
    def check() -> list[dict[str, Any]] | None:
        lines = log.lines()
        return lines if enough(lines) else None

    return wait_for(check, timeout=timeout)


@contextmanager
def client_traffic(sim: RunningSimulator, api: float = 0, websocket: float = 0) -> Iterator[None]:
    """Run the simulator's client traffic at these rates; afterwards stop it and let the access log settle."""
    sim.settings(api_requests_per_second=api, websocket_connects_per_second=websocket)
    try:
        yield
    finally:
        sim.settings(api_requests_per_second=0, websocket_connects_per_second=0)
        _settle(sim.access_log)


def _settle(path: Path, quiet: float = 0.3, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    size = path.stat().st_size if path.exists() else 0
    while time.monotonic() < deadline:
        time.sleep(quiet)
        now = path.stat().st_size if path.exists() else 0
        if now == size:
            return
        size = now
