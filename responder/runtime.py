"""Build one process's responder from its settings: engines, HTTP session, clock, notifier, registry,
playbooks, metrics and executor — every side effect created here and passed in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from common.config import ConfigError
from common.db import describe_url
from responder.actions.context import Clock, Services
from responder.actions.defaults import default_registry
from responder.actions.registry import Registry
from responder.console.identity import Operators, load_operators
from responder.executor import Executor
from responder.executor_settings import ExecutorSettings
from responder.ledger.store import create_schema, make_ledger_engine
from responder.metrics import Exposition, LedgerCollector, ResponderMetrics
from responder.notifier import Notifier
from responder.operations import Operations
from responder.playbooks import Playbooks, load_playbooks
from responder.runbooks import load_runbooks
from responder.settings import Settings
from responder.sweeper import Sweeper
from responder.wakeup import Wakeup
from sources.assets import AssetDirectory
from sources.botdata import open_bot_data


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    ledger: Engine
    services: Services
    playbooks: Playbooks
    metrics: ResponderMetrics
    exposition: Exposition
    wakeup: Wakeup
    executor: Executor
    operations: Operations
    operators: Operators
    sweeper: Sweeper

    @property
    def clock(self) -> Clock:
        return self.services.clock

    def start(self) -> None:
        """Start this process's executor threads and its sweeper."""
        self.executor.start(self.settings.responder.threads)
        if self.settings.responder.mode != "off":
            self.sweeper.start()

    def close(self) -> None:
        self.sweeper.stop()
        self.executor.stop()
        self.ledger.dispose()
        self.services.bot.dispose()
        self.services.http.close()


def build_runtime(
    settings: Settings,
    *,
    registry: Registry | None = None,
    clock: Clock = utcnow,
    session: requests.Session | None = None,
    multiprocess_dir: Path | None = None,
) -> Runtime:
    """Everything one responder process needs; raises ConfigError when the playbooks are invalid."""
    config = settings.responder
    registry = registry or default_registry()
    playbooks = load_playbooks(config.playbooks, registry)
    ledger = make_ledger_engine(
        config.ledger_url,
        int(config.ledger_lock_timeout_seconds * 1000),
        int(config.ledger_statement_timeout_seconds * 1000),
    )
    session = session or requests.Session()
    notifier = Notifier(
        settings.secrets.slack_webhook_url, session, config.notify.timeout_seconds, config.notify.next_update_minutes
    )
    bot = open_bot_data(settings.config.bot_db, clock, session, settings.bot_control)
    assets = AssetDirectory(clock, timedelta(seconds=settings.config.broker.crypto.asset_cache_seconds))
    services = Services(
        settings.config, settings.secrets, bot, ledger, session, clock, notifier, registry, assets, settings.hooks
    )
    exposition = Exposition(LedgerCollector(ledger, config, clock), multiprocess_dir)
    metrics = exposition.metrics(registry.names())
    wakeup = Wakeup()
    executor = Executor(ledger, services, ExecutorSettings.from_config(config), metrics, wakeup)
    operations = Operations(ledger, services, wakeup, metrics)
    operators = load_operators(config.console.operators_file)
    sweeper = Sweeper(ledger, session, config, playbooks.get, clock, metrics, wakeup)
    return Runtime(
        settings, ledger, services, playbooks, metrics, exposition, wakeup, executor, operations, operators, sweeper
    )


def prepare(settings: Settings, registry: Registry | None = None) -> Playbooks:
    """Start-up checks: valid playbooks, operators file and runbooks, a reachable ledger with its schema.

    Raises ConfigError (one line) otherwise."""
    config = settings.responder
    playbooks = load_playbooks(config.playbooks, registry or default_registry())
    load_operators(config.console.operators_file)
    if config.runbooks is not None:
        load_runbooks(config.runbooks)
    engine = make_ledger_engine(config.ledger_url)
    try:
        create_schema(engine)
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:300]
        where = describe_url(config.ledger_url)
        raise ConfigError(f"responder.ledger_url: the ledger database is unreachable ({where}): {reason}") from None
    finally:
        engine.dispose()
    return playbooks
