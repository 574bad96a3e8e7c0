"""The bot's own crypto trading: its crypto profiles make round trips at the broker, as a bot in today's shape.

Each step trades for the next active crypto profile (`simulator.seed.crypto_profiles`), at
`simulator.traffic.crypto_fills_per_second` steps a second on average (random gaps): a market buy when the bot
records no open position in its pair, else a market sell of what the broker holds rounded down to a tenth of the asset's
``min_order_size`` (the bot's own precision), after which the bot records the position as closed.

So every crypto fill does what Alpaca does to such a bot: a buy's fee is paid in the asset (the bot records
0.02, the broker holds 0.01995), and a sale leaves dust behind (below ``min_order_size``, worth cents),
bounded because the next sale takes it along. Steps honour the broker faults (an outage or
insufficient-funds refuses them) and are skipped for an inactive profile.
"""

from __future__ import annotations

import logging
import random
import time

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from simulator.bot.seed import CryptoProfile, crypto_profiles, crypto_size
from simulator.bot.store import open_position_in, record_exit, record_trade
from simulator.broker.book import InsufficientBalance
from simulator.broker.market import crypto_asset
from simulator.broker.trading import InvalidOrder, OrderRequest, place_order
from simulator.world import Simulator
from sources.botdb import PROFILE_ACTIVE, profiles
from sources.instruments import instrument
from sources.quantities import round_down

log = logging.getLogger("simulator.strategy")
TICK_SECONDS = 0.05
MAX_LAG_SECONDS = 1.0
RNG_SEED = 16  # the step times are random, but the same from run to run


class CryptoStrategy:
    def __init__(self, world: Simulator) -> None:
        self._world = world
        self._profiles = crypto_profiles(world.sim.seed)
        self._next = 0
        self._rng = random.Random(RNG_SEED)

    def step(self) -> str:
        """Trade once for the next crypto profile; return what happened (``bought``, ``sold``, or why not)."""
        if not self._profiles:
            return "no_crypto_profiles"
        profile = self._profiles[self._next % len(self._profiles)]
        self._next += 1
        with self._world.mutation_lock:
            self._world.pull()
            return self._trade(profile)

    def _trade(self, profile: CryptoProfile) -> str:
        world = self._world
        if world.faults.broker_outage_for(profile.account) is not None or world.faults.insufficient_funds():
            return "refused"
        with world.engine.connect() as conn:
            status = conn.execute(select(profiles.c.status).where(profiles.c.id == profile.id)).scalar()
        if status != PROFILE_ACTIVE:
            return "inactive"
        held = open_position_in(world.engine, profile.id, instrument(profile.symbol))
        try:
            return self._buy(profile) if held is None else self._sell(profile, int(held.id))
        except (InvalidOrder, InsufficientBalance) as exc:
            log.info("crypto %s for %s refused: %s", profile.symbol, profile.id, exc)
            return "refused"

    def _buy(self, profile: CryptoProfile) -> str:
        qty = round(crypto_size(profile.symbol) / 5 * (1 + (self._next % 4) / 10), 6)
        now = self._world.clock()
        request = OrderRequest(profile.symbol, qty, "buy", "market", "gtc")
        order = place_order(self._world.book, profile.account, request, now)
        record_trade(self._world.engine, profile.id, order, now)
        return "bought"

    def _sell(self, profile: CryptoProfile, position_id: int) -> str:
        world, now = self._world, self._world.clock()
        at_broker = world.book.position(profile.account, profile.symbol)
        asset = crypto_asset(profile.symbol)
        held = at_broker.qty if at_broker else 0.0
        qty = round_down(held, asset.min_order_size / 10) if asset else held
        if asset is None or qty < asset.min_order_size:
            return "nothing_to_sell"
        request = OrderRequest(profile.symbol, qty, "sell", "market", "gtc")
        order = place_order(world.book, profile.account, request, now)
        record_exit(world.engine, profile.id, order, position_id, now)
        return "sold"

    def run(self) -> None:
        """Trade at the configured mean rate until the simulator stops; a failed step is logged and skipped.

        Steps arrive at random (exponential gaps, as independent orders do), never on a fixed beat: a fixed
        beat that divides the scrape interval would show every scrape the same phase of the round trips
        (always open, or always sold), so fees or dust would never be seen."""
        rate = self._world.sim.traffic.crypto_fills_per_second
        if rate <= 0 or not self._profiles:
            return
        due = time.monotonic() + self._rng.expovariate(rate)
        while not self._world.stop.wait(TICK_SECONDS):
            now = time.monotonic()
            due = max(due, now - MAX_LAG_SECONDS)  # after a stall, catch up at most MAX_LAG_SECONDS of steps
            while due <= now:
                due += self._rng.expovariate(rate)
                try:
                    self.step()
                except SQLAlchemyError as exc:
                    log.warning("crypto trading step failed: %s", str(exc).splitlines()[0])
