"""Everything the simulated services share, built once per process and passed to every app and thread."""

from __future__ import annotations

import random
import secrets as random_secrets
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine

from common.config import Config, SimulatorConfig
from common.db import make_engine
from simulator.bot.accesslog import AccessLogWriter
from simulator.bot.shapes import ShapeMirror, bot_shape
from simulator.broker.book import BrokerBook
from simulator.faults.state import FaultState, RuntimeSettings
from simulator.secrets import SimulatorSecrets
from simulator.supabase.tokens import TokenService, User, UserDirectory
from simulator.timeutil import Clock, utc_now

CLIENT_USERS = 3


class DelayedActions:
    """Daemon timers for faults that resolve later (fill races); all cancelled on reset or shutdown."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._timers: list[threading.Timer] = []

    def schedule(self, seconds: float, action: Callable[[], None]) -> None:
        timer = threading.Timer(seconds, action)
        timer.daemon = True
        with self._lock:
            self._timers = [t for t in self._timers if t.is_alive()] + [timer]
        timer.start()

    def cancel_all(self) -> None:
        with self._lock:
            timers, self._timers = self._timers, []
        for timer in timers:
            timer.cancel()


@dataclass
class Simulator:
    """The shared state: the bot's working state (`engine`: the bot database in the default shape, else a
    private one that `mirror` writes into the bot database), broker book, faults, tokens, users, access log,
    clock."""

    config: Config
    sim: SimulatorConfig
    secrets: SimulatorSecrets
    engine: Engine
    clock: Clock
    book: BrokerBook
    faults: FaultState
    settings: RuntimeSettings
    tokens: TokenService
    users: UserDirectory
    access_log: AccessLogWriter
    probe_user: User
    clients: list[User]
    stop: threading.Event = field(default_factory=threading.Event)
    mutation_lock: threading.RLock = field(default_factory=threading.RLock)
    delayed: DelayedActions = field(default_factory=DelayedActions)
    mirror: ShapeMirror | None = None  # None: the bot database is the working state (the default shape)
    state_dir: Path | None = None  # where a shape's private working state lives

    @property
    def stale_after(self) -> timedelta:
        return timedelta(seconds=self.config.bot_db.stale_after_seconds)

    def url(self, port: int) -> str:
        return f"http://{self.sim.host}:{port}"

    def pull(self) -> int:
        """A bot of another shape: bring what others wrote in its tables (enablement, quarantine) into the
        working state. Call with `mutation_lock` held."""
        return self.mirror.pull(self.clock()) if self.mirror is not None else 0

    def publish(self, rebuild: bool = False) -> dict[str, int]:
        """A bot of another shape: write the working state's changes into its tables (all of them, after a
        reseed: `rebuild`). Call with `mutation_lock` held."""
        if self.mirror is None:
            return {}
        return self.mirror.rebuild(self.clock()) if rebuild else self.mirror.publish(self.clock())

    def close(self) -> None:
        self.engine.dispose()
        if self.mirror is not None:
            self.mirror.bot.dispose()
        if self.state_dir is not None:
            shutil.rmtree(self.state_dir, ignore_errors=True)


def supabase_issuer(config: Config) -> str:
    """The issuer GoTrue puts in its tokens: ``<public url>/auth/v1``."""
    return config.supabase.url.rstrip("/") + "/auth/v1"


def _engines(config: Config, shape_name: str) -> tuple[Engine, ShapeMirror | None, Path | None]:
    """The working state's engine, and for a shape other than the default the mirror into the bot database."""
    shape = bot_shape(shape_name)
    bot = make_engine(config.bot_db.url, pool_size=10, max_overflow=20)
    if shape is None:
        return bot, None, None
    state_dir = Path(tempfile.mkdtemp(prefix="tradingbot-simulator-state-"))
    state = make_engine(f"sqlite:///{state_dir / 'working-state.sqlite3'}")
    return state, ShapeMirror(shape, state, bot), state_dir


def build_simulator(config: Config, secrets: SimulatorSecrets, clock: Clock = utc_now,
                    engine: Engine | None = None, rng_seed: int = 1, bot_shape_name: str | None = None) -> Simulator:
    """Wire the shared state (no table is touched here); `bot_shape_name` overrides ``simulator.bot_shape``."""
    sim: SimulatorConfig = config.section("simulator")
    now = clock()
    mirror: ShapeMirror | None = None
    state_dir: Path | None = None
    if engine is None:
        engine, mirror, state_dir = _engines(config, bot_shape_name or sim.bot_shape)
    users = UserDirectory()
    probe = users.add(secrets.probe_email, secrets.probe_password, now)
    clients = [
        users.add(f"client-{n}@example.com", random_secrets.token_urlsafe(16), now) for n in range(1, CLIENT_USERS + 1)
    ]
    return Simulator(
        config=config,
        sim=sim,
        secrets=secrets,
        engine=engine,
        clock=clock,
        book=BrokerBook(),
        faults=FaultState(random.Random(rng_seed)),
        settings=RuntimeSettings(
            api_requests_per_second=sim.traffic.api_requests_per_second,
            websocket_connects_per_second=sim.traffic.websocket_connects_per_second,
        ),
        tokens=TokenService(secrets.jwt_secret, supabase_issuer(config), config.supabase.expected_audience),
        users=users,
        access_log=AccessLogWriter(config.bot.access_log, clock, config.bot.access_log_format),
        probe_user=probe,
        clients=clients,
        mirror=mirror,
        state_dir=state_dir,
    )
