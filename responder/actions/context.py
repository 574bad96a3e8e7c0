"""What an action gets: the alert, its run's earlier steps, and the side effects it may use (all passed in)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

import requests
from sqlalchemy import Engine

from common.config import Config, ResponderConfig
from responder.actions.registry import Registry, StepOutput
from responder.ledger.records import AlertRecord, StepRecord
from responder.ledger.schema import SUCCEEDED
from responder.notifier import Notifier
from responder.parity import Parity, account_parity
from responder.settings import Secrets
from sources.assets import AssetDirectory
from sources.botapi import BotApi
from sources.botdata import BotData
from sources.broker import BrokerClient
from sources.hooks import HookResult, HookSpec, run_hook
from sources.quantities import QuantityRules
from sources.supabase import SupabaseAuth

Clock = Callable[[], datetime]
OutputT = TypeVar("OutputT", bound=StepOutput)


class ActionError(Exception):
    """An action cannot proceed; the message is recorded as the step's error."""


@dataclass(frozen=True)
class Services:
    """The per-process side effects actions use; built once by the runtime and passed in."""

    config: Config
    secrets: Secrets
    bot: BotData
    ledger_engine: Engine
    http: requests.Session
    clock: Clock
    notifier: Notifier
    registry: Registry
    assets: AssetDirectory
    hooks: Mapping[str, HookSpec] = field(default_factory=dict)

    @property
    def responder(self) -> ResponderConfig:
        section: ResponderConfig = self.config.section("responder")
        return section

    def broker(self, account_id: str) -> BrokerClient:
        """A broker client with the account's key id (as the mapping finds it) and that key id's secret."""
        account = self.bot.account(account_id)
        if account is None:
            raise ActionError(f"broker account {account_id!r} is not in the bot's database")
        key_id = account.key_id
        if key_id is None:
            raise ActionError(f"the mapping gives broker account {account_id!r} no API key id (accounts.key_ids)")
        broker = self.config.broker
        timeout = (broker.connect_timeout_seconds, broker.read_timeout_seconds)
        secret = self.secrets.broker.for_key(key_id) or ""
        return BrokerClient(broker.base_url, key_id, secret, self.http, timeout)

    def brokers(self) -> Callable[[str], BrokerClient]:
        """`broker` for one action that reads many orders: each account's key id is read once."""
        return functools.cache(self.broker)

    @property
    def quantity_rules(self) -> QuantityRules:
        """How crypto quantities are compared (``broker.crypto``)."""
        crypto = self.config.broker.crypto
        return QuantityRules(crypto.fee_rate, crypto.dust_notional)

    def parity(self, account_id: str) -> Parity:
        """Position parity of the account at the broker; raises BrokerUnavailable when it cannot be read."""
        return account_parity(self.bot, self.broker(account_id), account_id, self.quantity_rules, self.assets)

    def bot_api(self, timeout: float = 3.0) -> BotApi:
        return BotApi(self.config.bot.base_url, self.http, timeout)

    def run_hook(self, name: str, context: Mapping[str, str | None]) -> HookResult:
        """Run the bot's `name` hook (raises HookUnavailable / HookRefused; ActionError when none is configured)."""
        spec = self.hooks.get(name)
        if spec is None:
            raise ActionError(f"bot.hooks.{name} is not configured")
        return run_hook(spec, context, self.http)

    def supabase_auth(self, timeout: float = 3.0) -> SupabaseAuth:
        return SupabaseAuth(self.config.supabase.url, self.secrets.anon_key, self.http, timeout)


@dataclass(frozen=True)
class ActionContext:
    services: Services
    alert: AlertRecord
    run_id: int
    step_id: int
    history: tuple[StepRecord, ...] = ()
    later: tuple[StepRecord, ...] = ()

    def now(self) -> datetime:
        return self.services.clock()

    def label(self, name: str) -> str | None:
        value = self.alert.labels.get(name)
        return value or None

    def require_label(self, name: str) -> str:
        value = self.label(name)
        if value is None:
            raise ActionError(f"the alert has no {name!r} label")
        return value

    def output(self, step_name: str, model: type[OutputT]) -> OutputT | None:
        """The typed output of an earlier, succeeded step of this run (None if it did not succeed); ActionError
        when what it stored is not a `model` (the playbook wires the step to the wrong kind of step)."""
        for step in self.history:
            if step.name == step_name and step.state == SUCCEEDED:
                found = self.services.registry.read_output(step.action, step.output)
                if not isinstance(found, model):
                    raise ActionError(f"step {step_name!r} ({step.action}) gave no {model.__name__}")
                return found
        return None
