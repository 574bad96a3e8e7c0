"""Position faults: ghost (broker open, bot closed), phantom (bot open, broker flat), fill race."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, update

from common.db import write_transaction
from simulator.bot.seed import crypto_profiles
from simulator.bot.store import inserted_id, move_position
from simulator.broker.book import SimOrder, new_order_id
from simulator.broker.market import CRYPTO_FEE_RATE, price_of
from simulator.faults.common import (
    ProfileRef,
    broker_copy,
    entry_side,
    exit_side,
    insert_bot_order,
    open_position,
    order_summary,
    pick_profile,
)
from simulator.faults.options import (
    CryptoFillRaceOptions,
    CryptoGhostOptions,
    FaultError,
    FillRaceOptions,
    GhostOptions,
    PhantomOptions,
)
from simulator.world import Simulator
from sources.botdb import POSITION_CLOSED, orders, positions
from sources.instruments import instrument

DEFAULT_QTY = 10.0


def _default_symbol(world: Simulator, conn: Connection, profile: ProfileRef, requested: str | None) -> str:
    if requested:
        return requested
    row = open_position(conn, profile.id, None)
    return str(row.symbol) if row is not None else world.sim.seed.symbols[0]


def _ghost_position(conn: Connection, world: Simulator, profile: ProfileRef, symbol: str, qty: float | None,
                    now: datetime) -> tuple[int, float, list[SimOrder]]:
    """Close the bot's position (or book a new, already-closed one the broker still holds)."""
    row = open_position(conn, profile.id, symbol)
    if row is not None and qty is None:
        conn.execute(update(positions).where(positions.c.id == row.id)
                     .values(status=POSITION_CLOSED, closed_at=now, updated_at=now))
        return int(row.id), float(row.qty), []
    signed = qty or DEFAULT_QTY
    opened = now - timedelta(minutes=10)
    entry = insert_bot_order(conn, profile.id, symbol, entry_side(signed), abs(signed), "filled", opened, opened,
                             "entry", at_broker=True)
    position_id = inserted_id(conn.execute(insert(positions).values(
        profile_id=profile.id, symbol=symbol, qty=signed, avg_entry_price=price_of(symbol),
        status=POSITION_CLOSED, opened_at=opened, closed_at=now, updated_at=now,
    )))
    return int(position_id), signed, [broker_copy(entry, profile.account, "new")]


def _exit_evidence(conn: Connection, world: Simulator, profile: ProfileRef, symbol: str, qty: float, cause: str,
                   now: datetime) -> tuple[dict[str, Any] | None, list[SimOrder]]:
    """The exit order the cause leaves behind (none for stale local state)."""
    if cause == "stale-local-state":
        return None, []
    at_broker = cause == "rejected-exit"
    status = "rejected" if at_broker else "expired"
    row = insert_bot_order(conn, profile.id, symbol, exit_side(qty), abs(qty), status, now - timedelta(seconds=60),
                           now - timedelta(seconds=30), "exit", at_broker=at_broker)
    return row, [broker_copy(row, profile.account, "rejected")] if at_broker else []


def inject_ghost(world: Simulator, options: GhostOptions) -> dict[str, Any]:
    now = world.clock()
    with write_transaction(world.engine) as conn:
        profile = pick_profile(conn, "ghost", options.profile, options.account, default="p-1")
        symbol = _default_symbol(world, conn, profile, options.symbol)
        position_id, qty, fills = _ghost_position(conn, world, profile, symbol, options.qty, now)
        exit_row, broker_orders = _exit_evidence(conn, world, profile, symbol, qty, options.cause, now)
    for order in fills:
        world.book.fill(order, price_of(symbol), order.created_at)
    for order in broker_orders:
        world.book.add_order(order)
    broker_position = world.book.position(profile.account, symbol)
    return {
        "profile": profile.id, "profiles": [profile.id], "account": profile.account, "accounts": [profile.account],
        "symbol": symbol, "symbols": [symbol], "qty": qty, "cause": options.cause, "position_id": position_id,
        "exit_order": order_summary(exit_row) if exit_row else None,
        "broker_qty": broker_position.qty if broker_position else 0.0,
    }


def _phantom_position(conn: Connection, profile: ProfileRef, symbol: str, now: datetime) -> tuple[int, float, bool]:
    """The bot's open position to orphan: (id, qty, whether the broker still holds it and must drop it)."""
    row = open_position(conn, profile.id, symbol)
    if row is not None:
        return int(row.id), float(row.qty), True
    opened = now - timedelta(minutes=10)
    insert_bot_order(conn, profile.id, symbol, "buy", DEFAULT_QTY, "filled", opened, opened, "entry", at_broker=False)
    position_id = inserted_id(conn.execute(insert(positions).values(
        profile_id=profile.id, symbol=symbol, qty=DEFAULT_QTY, avg_entry_price=price_of(symbol),
        status="open", opened_at=opened, closed_at=None, updated_at=opened,
    )))
    return int(position_id), DEFAULT_QTY, False


def inject_phantom(world: Simulator, options: PhantomOptions) -> dict[str, Any]:
    """The position is closed by hand at the broker; the bot still holds it open."""
    now = world.clock()
    with write_transaction(world.engine) as conn:
        profile = pick_profile(conn, "phantom", options.profile, None, default="p-2")
        symbol = _default_symbol(world, conn, profile, options.symbol)
        position_id, qty, at_broker = _phantom_position(conn, profile, symbol, now)
    manual = None
    if at_broker and instrument(symbol).crypto:  # the broker holds less than the bot (the fee): sell all of it
        manual = world.book.liquidate(profile.account, symbol, price_of(symbol), now)
    elif at_broker:
        manual = world.book.fill(SimOrder(
            id=new_order_id(), client_order_id=f"manual-close-{new_order_id()[:8]}", account=profile.account,
            symbol=symbol, side=exit_side(qty), qty=abs(qty), status="new", created_at=now, updated_at=now,
        ), price_of(symbol), now)
    broker_position = world.book.position(profile.account, symbol)
    return {
        "profile": profile.id, "profiles": [profile.id], "account": profile.account, "accounts": [profile.account],
        "symbol": symbol, "symbols": [symbol], "qty": qty, "position_id": position_id,
        "manual_close_order": manual.id if manual else None,
        "broker_qty": broker_position.qty if broker_position else 0.0,
    }


def _record_fill(world: Simulator, order_id: str, profile: str, symbol: str, qty: float, status: str) -> None:
    """The bot finally hears of the fill: order `status` (filled, partially_filled), position moved (once, if
    the order still exists)."""
    with world.mutation_lock:
        world.pull()
        now = world.clock()
        with write_transaction(world.engine) as conn:
            result = conn.execute(update(orders).where(orders.c.id == order_id, orders.c.status == "new")
                                  .values(status=status, updated_at=now))
            if result.rowcount == 1:
                move_position(conn, profile, symbol, qty, price_of(symbol), now)
        world.publish()
        world.faults.deactivate("fill-race")


def inject_fill_race(world: Simulator, options: FillRaceOptions) -> dict[str, Any]:
    """The broker shows the filled position now; the bot records the fill `seconds` later."""
    now = world.clock()
    with write_transaction(world.engine) as conn:
        profile = pick_profile(conn, "fill-race", options.profile, options.account, default="p-1")
        symbol = options.symbol or "SPY"
        row = insert_bot_order(conn, profile.id, symbol, "buy", options.qty, "new", now, now, "entry", at_broker=True)
    fee = CRYPTO_FEE_RATE if instrument(symbol).crypto else 0.0  # a crypto buy pays its fee in the asset
    share = options.filled_share
    world.book.fill(broker_copy(row, profile.account, "new"), price_of(symbol), now, fee_rate=fee, share=share)
    world.faults.activate("fill-race", options)
    filled, status = options.qty * share, "filled" if share >= 1.0 else "partially_filled"
    world.delayed.schedule(options.seconds, lambda: _record_fill(world, row["id"], profile.id, symbol, filled, status))
    return {
        "profile": profile.id, "profiles": [profile.id], "account": profile.account, "accounts": [profile.account],
        "symbol": symbol, "symbols": [symbol], "qty": options.qty, "filled_qty": filled, "seconds": options.seconds,
        "order": order_summary(row), "bot_records_fill_at": (now + timedelta(seconds=options.seconds)).isoformat(),
    }


def _crypto_profile(world: Simulator, kind: str, requested: str | None) -> str:
    if requested:
        return requested
    found = crypto_profiles(world.sim.seed)
    if not found:
        raise FaultError(f"{kind}: --profile: no crypto profile to default to (simulator.seed.crypto_profiles is 0)")
    return found[0].id


def inject_crypto_ghost(world: Simulator, options: CryptoGhostOptions) -> dict[str, Any]:
    """A ghost on a crypto profile: by default the broker holds 4 LINKUSD while the bot closed LINK/USD."""
    profile = _crypto_profile(world, "crypto-ghost", options.profile)
    return inject_ghost(world, GhostOptions(profile=profile, symbol=options.symbol, qty=options.qty,
                                            cause=options.cause))


def inject_crypto_fill_race(world: Simulator, options: CryptoFillRaceOptions) -> dict[str, Any]:
    """A fill race on a crypto profile: the broker credits the buy (less the fee) before the bot records it."""
    profile = _crypto_profile(world, "crypto-fill-race", options.profile)
    return inject_fill_race(world, FillRaceOptions(profile=profile, symbol=options.symbol, qty=options.qty,
                                                   seconds=options.seconds))
