"""Apply a fault by kind (the control API and the CLI both end here), and reset to the seeded state."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from simulator.bot.seed import seed_bot_db
from simulator.broker.book_load import load_book
from simulator.faults.options import (
    BrokerOutageOptions,
    CryptoFillRaceOptions,
    CryptoGhostOptions,
    FaultError,
    FaultOptions,
    FillRaceOptions,
    GhostOptions,
    PhantomOptions,
    StaleOrdersOptions,
    parse_options,
)
from simulator.faults.orders import inject_stale_orders
from simulator.faults.positions import (
    inject_crypto_fill_race,
    inject_crypto_ghost,
    inject_fill_race,
    inject_ghost,
    inject_phantom,
)
from simulator.world import Simulator


def reset(world: Simulator) -> dict[str, Any]:
    """Clear every fault, reseed the bot database and rebuild the broker from it."""
    with world.mutation_lock:
        world.delayed.cancel_all()
        world.faults.clear()
        seeded = seed_bot_db(world.engine, world.sim.seed, world.clock())
        broker = load_book(world.engine, world.book)
        world.publish(rebuild=True)
    return {"kind": "reset", "seeded": seeded, "broker": broker}


def _switch(_world: Simulator, _options: FaultOptions) -> dict[str, Any]:
    """Faults that are a mode of a service change nothing now: the services consult them per request."""
    return {}


def _broker_outage(world: Simulator, options: BrokerOutageOptions) -> dict[str, Any]:
    known = set(world.book.accounts())
    unknown = [account for account in options.accounts or [] if account not in known]
    if unknown:
        raise FaultError(f"broker-outage: --accounts: unknown account {unknown[0]!r}")
    return {"accounts": options.accounts if options.accounts is not None else sorted(known)}


def _typed(model: type[Any], action: Callable[[Simulator, Any], dict[str, Any]]
           ) -> Callable[[Simulator, FaultOptions], dict[str, Any]]:
    def run(world: Simulator, options: FaultOptions) -> dict[str, Any]:
        if not isinstance(options, model):
            raise TypeError(f"expected {model.__name__}, got {type(options).__name__}")
        return action(world, options)

    return run


def _handler(kind: str) -> Callable[[Simulator, FaultOptions], dict[str, Any]]:
    handlers: dict[str, Callable[[Simulator, FaultOptions], dict[str, Any]]] = {
        "ghost": _typed(GhostOptions, inject_ghost),
        "phantom": _typed(PhantomOptions, inject_phantom),
        "stale-orders": _typed(StaleOrdersOptions, inject_stale_orders),
        "fill-race": _typed(FillRaceOptions, inject_fill_race),
        "crypto-ghost": _typed(CryptoGhostOptions, inject_crypto_ghost),
        "crypto-fill-race": _typed(CryptoFillRaceOptions, inject_crypto_fill_race),
        "broker-outage": _typed(BrokerOutageOptions, _broker_outage),
        "reset": lambda world, _options: reset(world),
    }
    return handlers.get(kind, _switch)


def apply_fault(world: Simulator, kind: str, raw: Mapping[str, Any] | None) -> dict[str, Any]:
    """Validate and apply fault `kind`; return what changed. Raise FaultError on a bad kind or option."""
    options = parse_options(kind, raw)
    with world.mutation_lock:
        world.pull()
        changed = _handler(kind)(world, options)
        if kind == "reset":
            return changed
        world.publish()
        if kind not in ("fill-race", "crypto-fill-race"):  # a fill race activates and clears itself
            world.faults.activate(kind, options)
    return {"kind": kind, "options": options.model_dump(mode="json"), **changed}
