"""Ghost positions: the broker holds a position the bot records as closed, per account.

Each scrape reads the bot's broker accounts and open positions through the gateway (two statements; a third
sums the filled buys of open crypto positions when the bot holds any), every broker account's positions
(concurrently, bounded pool, per-call timeouts, an overall deadline; plus ``GET /v2/assets/{symbol}`` for a
crypto instrument whose asset is not cached yet) and, only when ghosts exist, which profile most recently
closed the symbol on that account (another statement; one more lists the account's profiles when some
ghost's symbol was never closed there). An account whose broker read fails gets `tradingbot_broker_up 0`
and no quantity or ghost series at all: no verdict, neither ghost nor clear. A ghost-looking instrument
with an order in flight is *settling* (`exporters.settling`: one more broker read of the account's orders,
one more statement), published as `tradingbot_position_settling` instead of a ghost for a short bound.

Quantities are compared per instrument (`sources.instruments`: ``BTC/USD`` and ``BTCUSD`` are one, labelled
``BTC/USD``) and as a trader would (`sources.quantities`): for crypto the fee paid in the asset is an
allowance and dust is never a ghost; both are published so the rules and the dashboard can use them::

    tradingbot_broker_up{account="acct-1"} 1.0
    tradingbot_broker_position_quantity{account="acct-1",symbol="TSLA"} 10.0
    tradingbot_bot_position_quantity{account="acct-1",symbol="TSLA"} 0.0
    tradingbot_ghost_position{account="acct-1",profile="p-1",symbol="TSLA"} 1.0
    tradingbot_position_settling{account="acct-1",profile="p-4",symbol="SPY"} 1.0
    tradingbot_broker_position_quantity{account="acct-1",symbol="BTC/USD"} 0.09975
    tradingbot_bot_position_quantity{account="acct-1",symbol="BTC/USD"} 0.1
    tradingbot_position_fee_allowance_quantity{account="acct-1",symbol="BTC/USD"} 0.00025
    tradingbot_dust_position_quantity{account="acct-1",symbol="BTC/USD"} 0.0
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import get_args

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from exporters.settling import SettleWindow, bot_order_ages, broker_order_ages, split_settling
from sources.assets import AssetDirectory, BrokerAsset
from sources.botdata import Account, BotData
from sources.broker import BrokerClient, BrokerError, BrokerUnavailable, UnavailableKind
from sources.holdings import Holdings, broker_holdings, open_holdings
from sources.instruments import Instrument, instrument
from sources.quantities import BotHolding, Comparison, QuantityRules, compare_all

log = logging.getLogger(__name__)

# the broker client's kinds of "no usable answer", plus the exporter's own: a read the scrape's deadline cut
# off, and an account the mapping gives no broker key id
ERROR_KINDS = (*get_args(UnavailableKind), "deadline", "no_key_id")
DEFAULT_ASSET_TTL = timedelta(hours=1)


@dataclass(frozen=True)
class Held:
    """One account compared, per instrument, and the age of the last broker order event of each ghost-looking
    instrument (empty when none looks like a ghost, or the orders could not be read)."""

    comparisons: list[Comparison]
    order_ages: dict[Instrument, float]


Ghost = tuple[str, Instrument]  # account id, instrument


class GhostPositionCollector:
    name = "ghost_positions"

    def __init__(
        self,
        bot: BotData,
        broker_for: Callable[[str], BrokerClient],
        max_concurrency: int,
        deadline_seconds: float,
        *,
        rules: QuantityRules | None = None,
        assets: AssetDirectory | None = None,
        window: SettleWindow | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._bot = bot
        self._broker_for = broker_for
        self._pool = ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix="broker-read")
        self._deadline = deadline_seconds
        self._rules = rules or QuantityRules()
        self._window = window or SettleWindow()
        self._clock = clock or (lambda: datetime.now(UTC))
        self._assets = assets or AssetDirectory(self._clock, DEFAULT_ASSET_TTL)
        self._errors = dict.fromkeys(ERROR_KINDS, 0)
        self._lock = threading.Lock()
        self._first: str | None = None  # the account the next pass reads first (the first one cut last time)

    def collect(self) -> list[Metric]:
        accounts, bot = self._read_bot()
        broker = self._read_brokers(accounts, bot)
        families = _Families()
        candidates: list[Ghost] = []
        broker_ages: dict[Ghost, float] = {}
        for account in accounts:
            held = broker.get(account.id)
            families.broker_up.add_metric([account.id], 0.0 if held is None else 1.0)
            if held is None:
                continue
            for comparison in held.comparisons:
                families.add(account.id, comparison)
                if comparison.verdict == "ghost":
                    candidates.append((account.id, comparison.instrument))
            broker_ages.update({(account.id, found): age for found, age in held.order_ages.items()})
        ghosts, settling = self._settle(candidates, broker_ages)
        impacted = self._impacted_profiles(ghosts + settling)
        for family, found in ((families.ghost, ghosts), (families.settling, settling)):
            for account_id, ghost in found:
                for profile in impacted.get((account_id, ghost), []):
                    family.add_metric([account_id, ghost.symbol, profile], 1.0)
        with self._lock:
            for kind, count in self._errors.items():
                families.errors.add_metric([kind], float(count))
        return families.all()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _settle(self, candidates: list[Ghost], broker_ages: dict[Ghost, float]) -> tuple[list[Ghost], list[Ghost]]:
        """(ghosts, settling) among the ghost-looking instruments (`exporters.settling`)."""
        if not candidates or not self._window.enabled:
            return candidates, []
        bot_ages = bot_order_ages(self._bot, candidates, self._clock())
        return split_settling(candidates, broker_ages, bot_ages, self._window)

    def _read_bot(self) -> tuple[list[Account], Holdings]:
        """Every broker account, and what the bot records as held per account and instrument."""
        return self._bot.accounts(), open_holdings(self._bot)

    def _read_brokers(self, accounts: list[Account], bot: Holdings) -> dict[str, Held]:
        """Read and compare every account's positions concurrently; accounts that fail are left out.

        Accounts the deadline cut are read first next time, so the same ones are not always left last."""
        futures = {
            self._pool.submit(self._read_broker, account, bot.get(account.id, {})): account
            for account in self._rotated(accounts)
        }
        done, _ = wait(futures, timeout=self._deadline)
        result: dict[str, Held] = {}
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

    def _result_of(self, future: Future[Held | None], account: Account) -> Held | None:
        """The account's holdings; an unexpected error loses that account only (counted as bad_response)."""
        try:
            return future.result()
        except Exception:
            log.exception("broker read for account %s failed unexpectedly", account.id)
            self._count_error("bad_response")
            return None

    def _read_broker(self, account: Account, recorded: dict[Instrument, BotHolding]) -> Held | None:
        if account.key_id is None:
            self._count_error("no_key_id")
            return None
        client = self._broker_for(account.key_id)
        try:
            held = client.list_positions()
        except BrokerUnavailable as exc:
            self._count_error(exc.kind)
            return None
        except BrokerError:  # a 404/4xx on the positions list is not an answer we can use either
            self._count_error("bad_response")
            return None
        holdings = broker_holdings(held)
        assets = {found: self._asset(client, found) for found in holdings if found.crypto}
        comparisons = compare_all(recorded, holdings, assets, self._rules)
        ghostly = [c.instrument for c in comparisons if c.verdict == "ghost"]
        return Held(comparisons, self._order_ages(client, ghostly) if ghostly and self._window.enabled else {})

    def _order_ages(self, client: BrokerClient, wanted: list[Instrument]) -> dict[Instrument, float]:
        """The broker's order evidence for the ghost-looking instruments; none when unreadable (counted)."""
        try:
            return broker_order_ages(client, wanted, self._window.orders_limit, self._clock)
        except BrokerUnavailable as exc:
            self._count_error(exc.kind)
        except BrokerError:
            self._count_error("bad_response")
        return {}

    def _asset(self, client: BrokerClient, wanted: Instrument) -> BrokerAsset | None:
        """The crypto asset's sizes (cached); None when unreadable now: dust is then judged by notional alone."""

        def fetch(found: Instrument) -> BrokerAsset | None:
            try:
                return client.get_asset(found)
            except BrokerUnavailable as exc:
                self._count_error(exc.kind)
                raise

        return self._assets.lookup(wanted, fetch, (BrokerError,))

    def _count_error(self, kind: str) -> None:
        with self._lock:
            self._errors[kind] = self._errors.get(kind, 0) + 1

    def _impacted_profiles(self, ghosts: list[Ghost]) -> dict[Ghost, list[str]]:
        """The profile that most recently closed each ghost's instrument on its account (all if tied), in any
        of its spellings; every profile of the account when none ever held it."""
        if not ghosts:
            return {}
        spelled = [(account, spelling) for account, ghost in ghosts for spelling in ghost.spellings]
        closes: dict[Ghost, dict[str, datetime | None]] = defaultdict(dict)
        for (account_id, symbol), by_profile in self._bot.last_closes(spelled).items():
            seen = closes[(account_id, instrument(symbol))]
            for profile, closed_at in by_profile.items():
                seen[profile] = max(filter(None, (seen.get(profile), closed_at)), default=None)
        never_closed = sorted({account for account, ghost in ghosts if (account, ghost) not in closes})
        by_account = self._bot.profiles_of(never_closed) if never_closed else {}
        return {ghost: _latest(closes.get(ghost, {})) or sorted(by_account.get(ghost[0], ())) for ghost in ghosts}


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
        self.fee_allowance = GaugeMetricFamily(
            "tradingbot_position_fee_allowance_quantity",
            "Crypto: how much less than the bot records the broker may hold (the fee paid in the asset on buys)",
            labels=["account", "symbol"],
        )
        self.dust = GaugeMetricFamily(
            "tradingbot_dust_position_quantity",
            "Crypto: the broker's quantity that is dust (below min_order_size or the notional floor), never paged",
            labels=["account", "symbol"],
        )
        self.ghost = GaugeMetricFamily(
            "tradingbot_ghost_position",
            "1 while the broker holds a position the bot records as closed, per impacted profile",
            labels=["account", "symbol", "profile"],
        )
        self.settling = GaugeMetricFamily(
            "tradingbot_position_settling",
            "1 while the broker holds a position the bot records as closed and an order in it is in flight (an"
            " order event within exporters.ghost_settle_seconds), per impacted profile: not a ghost yet",
            labels=["account", "symbol", "profile"],
        )
        self.errors = CounterMetricFamily(
            "tradingbot_broker_errors",
            "Broker reads that gave no usable answer, by kind",
            labels=["kind"],
        )

    def add(self, account_id: str, comparison: Comparison) -> None:
        labels = [account_id, comparison.instrument.symbol]
        self.broker_qty.add_metric(labels, comparison.broker_qty)
        self.bot_qty.add_metric(labels, comparison.bot_qty)
        if comparison.instrument.crypto:
            self.fee_allowance.add_metric(labels, comparison.fee_allowance)
            self.dust.add_metric(labels, comparison.dust)

    def all(self) -> list[Metric]:
        return [
            self.broker_up, self.broker_qty, self.bot_qty, self.fee_allowance, self.dust, self.ghost, self.settling,
            self.errors,
        ]
