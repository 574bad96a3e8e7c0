"""The stale-orders fault: working orders whose updates never arrive (the order-update stream dropped)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Connection

from common.db import write_transaction
from simulator.broker.book import SimOrder
from simulator.faults.common import ProfileRef, broker_copy, insert_bot_order, open_position, pick_profile
from simulator.faults.options import StaleOrdersOptions
from simulator.world import Simulator

OLDER_THAN_A_DAY_SECONDS = 25 * 3600


def _profiles(conn: Connection, names: list[str]) -> list[ProfileRef]:
    if not names:
        return [pick_profile(conn, "stale-orders", None, None, default="p-1")]
    return [pick_profile(conn, "stale-orders", name, None) for name in dict.fromkeys(names)]


def _broker_status(status: str) -> str:
    """What the broker shows for a bot order stuck in `status` (it accepted the order)."""
    return "pending_cancel" if status == "pending_cancel" else "new"


def inject_stale_orders(world: Simulator, options: StaleOrdersOptions) -> dict[str, Any]:
    """Order i is > 24 h old when i < older_than_24h and unknown to the broker when i < missing_at_broker (its
    broker id answers 404)."""
    now = world.clock()
    created: list[dict[str, Any]] = []
    broker_orders: list[SimOrder] = []
    with write_transaction(world.engine) as conn:
        targets = _profiles(conn, options.profile)
        for index in range(options.count):
            profile = targets[index % len(targets)]
            held = open_position(conn, profile.id, None)
            symbol = str(held.symbol) if held is not None else world.sim.seed.symbols[0]
            older = index < options.older_than_24h
            age = max(options.age_seconds, OLDER_THAN_A_DAY_SECONDS) if older else options.age_seconds
            missing = index < options.missing_at_broker
            updated = now - timedelta(seconds=age)
            # the bot recorded a broker id for each (its submission was answered); the broker lost the missing ones,
            # so they are missing by either id, in a bot that keeps a client order id and in one that does not
            row = insert_bot_order(conn, profile.id, symbol, "buy", 1.0, options.status, updated - timedelta(seconds=5),
                                   updated, "stale", at_broker=True)
            if not missing:
                broker_orders.append(broker_copy(row, profile.account, _broker_status(options.status), "limit"))
            created.append({**row, "account": profile.account, "age_seconds": age, "at_broker": not missing,
                            "created_at": row["created_at"].isoformat(), "updated_at": updated.isoformat()})
    for order in broker_orders:
        world.book.add_order(order)
    world.faults.hold_stuck([row["id"] for row in created])
    return {
        "orders": created,
        "order_ids": [row["id"] for row in created],
        "profiles": sorted({row["profile_id"] for row in created}),
        "accounts": sorted({row["account"] for row in created}),
        "missing_at_broker": [row["id"] for row in created if not row["at_broker"]],
        "older_than_24h": [row["id"] for row in created if row["age_seconds"] >= OLDER_THAN_A_DAY_SECONDS],
    }
