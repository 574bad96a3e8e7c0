"""Ghost positions: the broker holds a position the bot records as closed, per account.

Each scrape reads the bot's broker accounts and open positions (two statements), every broker account's
positions (concurrently, bounded pool, per-call timeouts, an overall deadline) and, only when ghosts
exist, which profile most recently closed the symbol on that account (a third statement; a fourth lists
the account's profiles when some ghost's symbol was never closed there). An account whose
broker read fails gets `tradingbot_broker_up 0` and no quantity or ghost series at all: no verdict,
neither ghost nor clear::

    tradingbot_broker_up{account="acct-1"} 1.0
    tradingbot_broker_position_quantity{account="acct-1",symbol="TSLA"} 10.0
    tradingbot_bot_position_quantity{account="acct-1",symbol="TSLA"} 0.0
    tradingbot_ghost_position{account="acct-1",profile="p-1",symbol="TSLA"} 1.0
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import get_args

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy import Engine, func, select, tuple_, type_coerce

from sources.botdb import POSITION_CLOSED, POSITION_OPEN, UTCDateTime, broker_accounts, positions, profiles
from sources.broker import BrokerClient, BrokerError, BrokerUnavailable, UnavailableKind

log = logging.getLogger(__name__)

# the broker client's kinds of "no usable answer", plus the exporter's own: a read the scrape's deadline cut off
ERROR_KINDS = (*get_args(UnavailableKind), "deadline")


@dataclass(frozen=True)
class Account:
    id: str
    api_key_id: str


Quantities = dict[str, float]  # symbol -> signed quantity


class GhostPositionCollector:
    name = "ghost_positions"

    def __init__(
        self,
        engine: Engine,
        broker_for: Callable[[str], BrokerClient],
        max_concurrency: int,
        deadline_seconds: float,
    ) -> None:
        self._engine = engine
        self._broker_for = broker_for
        self._pool = ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix="broker-read")
        self._deadline = deadline_seconds
        self._errors = dict.fromkeys(ERROR_KINDS, 0)
        self._lock = threading.Lock()
        self._first: str | None = None  # the account the next pass reads first (the first one cut last time)

    def collect(self) -> list[Metric]:
        accounts, bot = self._read_bot()
        broker = self._read_brokers(accounts)
        families = _Families()
        ghosts: list[tuple[str, str]] = []
        for account in accounts:
            held = broker.get(account.id)
            families.broker_up.add_metric([account.id], 0.0 if held is None else 1.0)
            if held is None:
                continue
            recorded = bot.get(account.id, {})
            for symbol in sorted(held.keys() | recorded.keys()):
                broker_qty, bot_qty = held.get(symbol, 0.0), recorded.get(symbol, 0.0)
                families.broker_qty.add_metric([account.id, symbol], broker_qty)
                families.bot_qty.add_metric([account.id, symbol], bot_qty)
                if broker_qty != 0 and bot_qty == 0:
                    ghosts.append((account.id, symbol))
        for (account_id, symbol), impacted in self._impacted_profiles(ghosts).items():
            for profile in impacted:
                families.ghost.add_metric([account_id, symbol, profile], 1.0)
        with self._lock:
            for kind, count in self._errors.items():
                families.errors.add_metric([kind], float(count))
        return families.all()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _read_bot(self) -> tuple[list[Account], dict[str, Quantities]]:
        """Return every broker account and the bot's open net quantity per account and symbol."""
        open_qty = (
            select(profiles.c.account_id, positions.c.symbol, positions.c.qty)
            .select_from(positions.join(profiles, positions.c.profile_id == profiles.c.id))
            .where(positions.c.status == POSITION_OPEN)
        )
        bot: dict[str, Quantities] = defaultdict(dict)
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(broker_accounts.c.id, broker_accounts.c.api_key_id).order_by(broker_accounts.c.id)
            )
            accounts = [Account(row.id, row.api_key_id) for row in rows]
            for account_id, symbol, qty in conn.execute(open_qty):
                bot[account_id][symbol] = bot[account_id].get(symbol, 0.0) + float(qty)
        return accounts, bot

    def _read_brokers(self, accounts: list[Account]) -> dict[str, Quantities]:
        """Read every account's positions concurrently; accounts that fail are left out.

        Accounts the deadline cut are read first next time, so the same ones are not always left last."""
        futures = {self._pool.submit(self._read_broker, account): account for account in self._rotated(accounts)}
        done, _ = wait(futures, timeout=self._deadline)
        result: dict[str, Quantities] = {}
        cut: list[str] = []
        for future, account in futures.items():
            if future not in done:
                future.cancel()
                self._count_error("deadline")
                cut.append(account.id)
                continue
            held = self._result_of(future, account)
            if held is not None:
                result[account.id] = held
        with self._lock:
            self._first = cut[0] if cut else None
        return result

    def _rotated(self, accounts: list[Account]) -> list[Account]:
        """`accounts` (in id order) starting with the first account the last pass's deadline cut."""
        with self._lock:
            first = self._first
        ids = [account.id for account in accounts]
        if first not in ids:
            return accounts
        start = ids.index(first)
        return accounts[start:] + accounts[:start]

    def _result_of(self, future: Future[Quantities | None], account: Account) -> Quantities | None:
        """The account's quantities; an unexpected error loses that account only (counted as bad_response)."""
        try:
            return future.result()
        except Exception:
            log.exception("broker read for account %s failed unexpectedly", account.id)
            self._count_error("bad_response")
            return None

    def _read_broker(self, account: Account) -> Quantities | None:
        try:
            held = self._broker_for(account.api_key_id).list_positions()
        except BrokerUnavailable as exc:
            self._count_error(exc.kind)
            return None
        except BrokerError:  # a 404/4xx on the positions list is not an answer we can use either
            self._count_error("bad_response")
            return None
        quantities: Quantities = {}
        for position in held:
            quantities[position.symbol] = quantities.get(position.symbol, 0.0) + position.qty
        return quantities

    def _count_error(self, kind: str) -> None:
        with self._lock:
            self._errors[kind] = self._errors.get(kind, 0) + 1

    def _impacted_profiles(self, ghosts: list[tuple[str, str]]) -> dict[tuple[str, str], list[str]]:
        """The profile that most recently closed each ghost's symbol on its account (all if tied);
        every profile of the account when none ever held it."""
        if not ghosts:
            return {}
        last_close = (
            select(
                profiles.c.account_id,
                positions.c.symbol,
                profiles.c.id,
                type_coerce(func.max(positions.c.closed_at), UTCDateTime()),
            )
            .select_from(positions.join(profiles, positions.c.profile_id == profiles.c.id))
            .where(positions.c.status == POSITION_CLOSED)
            .where(tuple_(profiles.c.account_id, positions.c.symbol).in_(ghosts))
            .group_by(profiles.c.account_id, positions.c.symbol, profiles.c.id)
        )
        closes: dict[tuple[str, str], dict[str, datetime | None]] = defaultdict(dict)
        by_account: dict[str, set[str]] = defaultdict(set)
        with self._engine.connect() as conn:
            for account_id, symbol, profile, closed_at in conn.execute(last_close):
                closes[(account_id, symbol)][profile] = closed_at
            never_closed = {account for account, symbol in ghosts if (account, symbol) not in closes}
            if never_closed:
                everyone = select(profiles.c.account_id, profiles.c.id).where(profiles.c.account_id.in_(never_closed))
                for account_id, profile in conn.execute(everyone):
                    by_account[account_id].add(profile)
        return {ghost: _latest(closes.get(ghost, {})) or sorted(by_account[ghost[0]]) for ghost in ghosts}


def _latest(closed_at_by_profile: dict[str, datetime | None]) -> list[str]:
    """The profiles whose last close is the most recent one (a close without a time counts as oldest)."""
    if not closed_at_by_profile:
        return []
    latest = max(closed_at_by_profile.values(), key=lambda at: at or datetime.min.replace(tzinfo=UTC))
    return sorted(profile for profile, at in closed_at_by_profile.items() if at == latest)


class _Families:
    def __init__(self) -> None:
        self.broker_up = GaugeMetricFamily(
            "tradingbot_broker_up", "1 if the last broker read for the account succeeded", labels=["account"]
        )
        self.broker_qty = GaugeMetricFamily(
            "tradingbot_broker_position_quantity",
            "Signed net quantity the broker reports",
            labels=["account", "symbol"],
        )
        self.bot_qty = GaugeMetricFamily(
            "tradingbot_bot_position_quantity",
            "Signed net quantity the bot's DB records as open",
            labels=["account", "symbol"],
        )
        self.ghost = GaugeMetricFamily(
            "tradingbot_ghost_position",
            "1 while the broker holds a position the bot records as closed, per impacted profile",
            labels=["account", "symbol", "profile"],
        )
        self.errors = CounterMetricFamily(
            "tradingbot_broker_errors",
            "Broker reads that gave no usable answer, by kind",
            labels=["kind"],
        )

    def all(self) -> list[Metric]:
        return [self.broker_up, self.broker_qty, self.bot_qty, self.ghost, self.errors]
