"""The bot's OrderStatusSyncService: apply broker order updates and keep healthy working orders fresh."""

from __future__ import annotations

import logging

from sqlalchemy.exc import SQLAlchemyError

from simulator.bot.store import apply_order_updates, touch_fresh_orders
from simulator.world import Simulator

log = logging.getLogger("simulator.sync")
MAX_INTERVAL_SECONDS = 5.0


def sync_interval(stale_after_seconds: float) -> float:
    """Often enough that a healthy order never ages past the SLA."""
    return max(0.1, min(MAX_INTERVAL_SECONDS, stale_after_seconds / 4))


class OrderStatusSync:
    """One cycle mirrors broker-side changes (e.g. cancellations) onto the bot's orders and touches every
    working order that is still fresh, except those a fault holds stuck; stale orders stay stale. (In a bot
    of another shape the touch stays in the working state: its tables change only when a row does.)"""

    def __init__(self, world: Simulator) -> None:
        self._world = world

    def cycle(self) -> tuple[int, int]:
        world = self._world
        with world.mutation_lock:
            world.pull()
            now = world.clock()
            applied = apply_order_updates(world.engine, world.book.drain_updates(), now)
            touched = touch_fresh_orders(world.engine, now, world.stale_after, world.faults.stuck_orders())
            world.publish()  # a bot of another shape writes only what changed
        return applied, touched

    def run(self) -> None:
        """Cycle until the simulator stops; a failed cycle is logged and retried next time."""
        interval = sync_interval(self._world.config.bot_db.stale_after_seconds)
        while not self._world.stop.wait(interval):
            try:
                self.cycle()
            except SQLAlchemyError as exc:
                log.warning("[OrderSync] cycle failed: %s", str(exc).splitlines()[0])
