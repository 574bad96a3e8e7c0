"""Plain-JSON views of broker and bot objects for evidence, their typed models (what step outputs hold), and
the order lookup the runbook needs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from sources.botdata import BotOrder, BotPosition
from sources.broker import BrokerClient, BrokerOrder, BrokerPosition, BrokerUnavailable, OrderMissing


class View(BaseModel):
    """A row of evidence as a step's output holds it (keys an older row has and the model not are ignored)."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class PositionView(View):
    symbol: str
    qty: float
    side: str
    avg_entry_price: float
    market_value: float
    current_price: float
    notional: float


class BrokerOrderView(View):
    id: str
    client_order_id: str | None = None
    symbol: str
    side: str
    qty: float | None = None
    filled_qty: float | None = None
    status: str
    created_at: str | None = None
    updated_at: str | None = None


class PlacedOrder(BrokerOrderView):
    """An order the responder placed: ``placed`` says whether this attempt placed it or found the order an
    earlier attempt had placed under the same client order id (``already_placed``)."""

    placed: str | None = None


class BotOrderView(View):
    id: str
    profile: str | None = None
    account: str | None = None
    symbol: str
    side: str | None = None
    qty: float | None = None
    status: str
    status_class: str | None = None
    rejected: bool = False
    client_order_id: str | None = None
    broker_order_id: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    stale_since: str | None = None


class BotPositionView(View):
    id: str
    qty: float
    status: Literal["open", "closed"]
    raw_status: str | None = None
    opened_at: str | None = None
    closed_at: str | None = None


class ParityRow(View):
    """One instrument's quantities where bot and broker differ (`responder.parity`)."""

    symbol: str
    bot_qty: float
    broker_qty: float


class ParityView(View):
    """Position parity of one account (`Parity.as_dict`)."""

    account: str
    bot: dict[str, float] = {}
    broker: dict[str, float] = {}
    mismatches: list[ParityRow] = []
    explained: list[ParityRow] = []


class LookupView(View):
    """What the broker said when an order was looked up (`Lookup.as_dict`)."""

    broker: Literal["found", "missing", "unavailable"]
    broker_status: str | None = None
    broker_id: str | None = None
    broker_error: str | None = None


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def position_view(position: BrokerPosition) -> dict[str, Any]:
    return {
        "symbol": position.symbol,
        "qty": position.qty,
        "side": position.side,
        "avg_entry_price": position.avg_entry_price,
        "market_value": position.market_value,
        "current_price": position.current_price,
        "notional": position.notional,
    }


def broker_order_view(order: BrokerOrder) -> dict[str, Any]:
    return {
        "id": order.id,
        "client_order_id": order.client_order_id,
        "symbol": order.symbol,
        "side": order.side,
        "qty": order.qty,
        "filled_qty": order.filled_qty,
        "status": order.status,
        "created_at": iso(order.created_at),
        "updated_at": iso(order.updated_at),
    }


def bot_order_view(order: BotOrder) -> dict[str, Any]:
    view = {
        "id": order.id,
        "profile": order.profile,
        "account": order.account,
        "symbol": order.symbol,
        "side": order.side,
        "qty": order.qty,
        "status": order.status,
        "status_class": order.status_class,
        "rejected": order.rejected,
        "client_order_id": order.client_order_id,
        "broker_order_id": order.broker_order_id,
        "created_at": iso(order.created_at),
        "updated_at": iso(order.updated_at),
    }
    if order.stale_since is not None:
        view["stale_since"] = iso(order.stale_since)
    return view


def bot_position_view(position: BotPosition) -> dict[str, Any]:
    return {
        "id": position.id,
        "qty": position.qty,
        "status": "open" if position.open else "closed",
        "raw_status": position.status,
        "opened_at": iso(position.opened_at),
        "closed_at": iso(position.closed_at),
    }


@dataclass(frozen=True)
class Lookup:
    """One order lookup at the broker: a definite answer (found / missing) or none (unavailable)."""

    result: Literal["found", "missing", "unavailable"]
    order: BrokerOrder | None = None
    error_kind: str = ""

    def as_dict(self) -> dict[str, Any]:
        view: dict[str, Any] = {"broker": self.result}
        if self.order:
            view.update(broker_status=self.order.status, broker_id=self.order.id)
        if self.error_kind:
            view["broker_error"] = self.error_kind
        return view


def lookup_order(broker: BrokerClient, broker_order_id: str | None, client_order_id: str | None) -> Lookup:
    """Look an order up by the broker's id, else by the bot's client order id. Only a 404 is "missing";
    an order the bot keeps neither id of cannot be looked up ("unavailable", never "missing")."""
    try:
        if broker_order_id:
            return Lookup("found", broker.get_order(broker_order_id))
        if client_order_id:
            return Lookup("found", broker.get_order_by_client_id(client_order_id))
        return Lookup("unavailable", error_kind="no_order_id")
    except OrderMissing:
        return Lookup("missing")
    except BrokerUnavailable as exc:
        return Lookup("unavailable", error_kind=exc.kind)


def confirmed_missing(broker: BrokerClient, broker_order_id: str | None, client_order_id: str | None) -> Lookup:
    """Look up twice: "missing" only when both lookups answered 404."""
    first = lookup_order(broker, broker_order_id, client_order_id)
    if first.result != "missing":
        return first
    return lookup_order(broker, broker_order_id, client_order_id)
