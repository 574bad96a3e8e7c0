"""Orders the responder places: reduce-only closes, each under a client order id derived from its step.

A close never sells more than the broker holds and never flips the side: a long is sold, a short bought
back, by at most the position's quantity (crypto: what the broker holds, rounded down to the asset's
``min_trade_increment``, dust left alone — `sources.quantities.close_size`).

The client order id is ``rsp-<run>-<step>-<what>`` (no attempt number): a step re-run after a crash asks
the broker for the same id, the broker refuses it (422, as Alpaca does) and the order placed the first
time is looked up by that id and reported as ``already_placed`` — never a second order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from responder.actions.context import ActionContext
from responder.actions.views import broker_order_view
from sources.broker import BrokerClient, BrokerError, BrokerPosition, OrderToPlace, Placed
from sources.instruments import Instrument
from sources.quantities import CloseSize, close_size

MAX_CLIENT_ORDER_ID = 128  # Alpaca's limit
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def client_order_id(run_id: int, step_id: int, what: str) -> str:
    """The client order id of the order step `step_id` of run `run_id` places for `what` (an account and
    symbol): the same on every attempt of the step."""
    tail = _UNSAFE.sub("_", what)
    return f"rsp-{run_id}-{step_id}-{tail}"[:MAX_CLIENT_ORDER_ID]


def step_client_order_id(ctx: ActionContext, what: str) -> str:
    return client_order_id(ctx.run_id, ctx.step_id, what)


def close_size_of(ctx: ActionContext, broker: BrokerClient, held: Instrument, position: BrokerPosition) -> CloseSize:
    """What a close sells: equities all; crypto what the broker holds, rounded down, dust left alone."""
    asset = ctx.services.assets.lookup(held, broker.get_asset, (BrokerError,)) if held.crypto else None
    rules = ctx.services.quantity_rules
    return close_size(held, position.qty, position.current_price, asset, rules)


@dataclass(frozen=True)
class Close:
    """A reduce-only close of `position`: the opposite side, at most the quantity held."""

    order: OrderToPlace
    position: BrokerPosition

    @property
    def view(self) -> dict[str, Any]:
        o = self.order
        return {"symbol": o.symbol, "side": o.side, "qty": o.qty, "client_order_id": o.client_order_id}


def reduce_only(held: Instrument, position: BrokerPosition, qty: float, client_id: str) -> Close:
    """The order closing `qty` of `position`; raise ValueError for a quantity that would flip the side."""
    if not 0 < qty <= abs(position.qty) + 1e-12:
        raise ValueError(f"close of {qty:g} {held.symbol} refused: the broker holds {abs(position.qty):g}")
    side: Literal["buy", "sell"] = "sell" if position.qty > 0 else "buy"
    tif: Literal["day", "gtc"] = "gtc" if held.crypto else "day"
    return Close(OrderToPlace(held.symbol, min(qty, abs(position.qty)), side, client_id, tif), position)


def place(broker: BrokerClient, close: Close) -> tuple[Placed, dict[str, Any]]:
    """Place the close once (a repeated client order id finds the earlier order); the order's view."""
    placed = broker.place_once(close.order)
    return placed, {**broker_order_view(placed.order), "placed": placed.result}
