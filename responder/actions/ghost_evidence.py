"""Ghost position (runbook 1): the evidence, with the ghost re-checked and a suggested root cause.

The evidence re-checks the ghost when it is captured (broker position against the bot's open quantity on
the account): ``ghost_at_capture`` is ``present``, ``absent`` (bot and broker agree: the alert came late
or the position settled) or ``unverified`` (the broker did not answer). A category is suggested only for
a ghost that is present. The playbook deactivates the profile in every case (docs/responder.md: one
reading cannot tell a settled ghost from one that comes and goes; re-enabling is parity-checked).

Root-cause categories, suggested from the evidence:
- ``exchange timeout``: the bot has an exit order the broker does not know (404 by client_order_id, twice);
- ``rejected exit``: the exit order was rejected, at the broker or in the bot;
- ``stale local state``: the bot closed the position without any exit order.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from responder.actions.context import ActionContext
from responder.actions.registry import SUCCEEDED, Outcome, Params, StepOutput
from responder.actions.views import (
    BotOrderView,
    BotPositionView,
    BrokerOrderView,
    PositionView,
    bot_order_view,
    bot_position_view,
    broker_order_view,
    confirmed_missing,
    position_view,
)
from responder.parity import Parity
from sources.broker import BrokerClient, BrokerError, BrokerUnavailable
from sources.instruments import Instrument, instrument


class GhostParams(Params):
    account_label: str = "account"
    symbol_label: str = "symbol"
    profile_label: str = "profile"
    max_orders: int = 50


class ExitOrder(BotOrderView):
    """An order of the bot's that would have closed its last position, with what the broker said about it
    (when it was looked up)."""

    broker: Literal["found", "missing", "unavailable"] | None = None
    broker_status: str | None = None
    broker_id: str | None = None
    broker_error: str | None = None


class GhostEvidence(StepOutput):
    """Both sides of a ghost position, the ghost re-checked at capture, and the root cause it suggests."""

    account: str
    symbol: str
    profile: str
    spellings: list[str] | None = None  # crypto: the bot's rows in either spelling
    bot_orders: list[BotOrderView] = []
    bot_positions: list[BotPositionView] = []
    broker_position: PositionView | None = None
    broker_orders: list[BrokerOrderView] = []
    broker_error: str | None = None
    ghost_at_capture: Literal["present", "absent", "unverified"]
    bot_qty: float | None = None
    broker_qty: float | None = None
    exit_orders: list[ExitOrder] = []
    suggested_category: str
    category_reason: str


def capture_ghost_evidence(ctx: ActionContext, params: GhostParams) -> Outcome:
    """Evidence, with the ghost re-checked now: a category is suggested only for a ghost that is there."""
    account = ctx.require_label(params.account_label)
    held = instrument(ctx.require_label(params.symbol_label))
    profile = ctx.require_label(params.profile_label)
    evidence: dict[str, Any] = {"account": account, "symbol": held.symbol, "profile": profile}
    if held.crypto:
        evidence["spellings"] = list(held.spellings)  # the bot's rows in either; the broker's position is compact
    evidence.update(_bot_side(ctx, profile, held, params.max_orders))
    broker = ctx.services.broker(account)
    evidence.update(_broker_side(broker, held, params.max_orders))
    evidence.update(recheck(evidence, _parity(ctx, account)))
    if evidence["ghost_at_capture"] == GHOST_PRESENT:
        category, reason, exits = suggest_category(broker, evidence)
    else:
        category, reason, exits = UNDETERMINED, _why_no_category(evidence), []
    evidence.update(exit_orders=exits, suggested_category=category, category_reason=reason)
    where = f" (position {held.position_symbol})" if held.crypto else ""
    evidence["summary"] = _summary(evidence, f"{held}{where}")
    detail = "partial" if evidence.get("broker_error") else "captured"
    return Outcome(SUCCEEDED, detail, GhostEvidence.model_validate(evidence))


GHOST_PRESENT, GHOST_ABSENT, GHOST_UNVERIFIED = "present", "absent", "unverified"
UNDETERMINED = "undetermined"
TOLERANCE = 1e-9


def _parity(ctx: ActionContext, account: str) -> Parity | None:
    """The account's position parity now (crypto compared with its fee allowance and dust), None unread."""
    try:
        return ctx.services.parity(account)
    except BrokerError:
        return None


def recheck(evidence: Mapping[str, Any], parity: Parity | None) -> dict[str, Any]:
    """Is the ghost there now? The instrument's broker position against the bot's open quantity on the account
    (summed over its profiles, as parity compares them). Without a broker answer it is unverified, never
    "there" or "gone"."""
    symbol = evidence["symbol"]
    if evidence.get("broker_error") or parity is None:
        bot_qty = parity.bot.get(symbol, 0.0) if parity else None
        return {"ghost_at_capture": GHOST_UNVERIFIED, "bot_qty": bot_qty, "broker_qty": None}
    bot_qty, broker_qty = parity.bot.get(symbol, 0.0), parity.broker.get(symbol, 0.0)
    mismatched = any(m["symbol"] == symbol for m in parity.mismatches)
    unrecorded = mismatched and abs(broker_qty) > TOLERANCE
    return {"ghost_at_capture": GHOST_PRESENT if unrecorded else GHOST_ABSENT, "bot_qty": bot_qty,
            "broker_qty": broker_qty}


def _agreement(evidence: Mapping[str, Any]) -> str:
    """What an absent ghost looks like: parity holds, or the broker holds nothing (a phantom at most)."""
    broker_qty, bot_qty, symbol = evidence["broker_qty"], evidence["bot_qty"], evidence["symbol"]
    if abs(broker_qty) <= TOLERANCE and abs(bot_qty) > TOLERANCE:
        return f"the broker holds no {symbol} (the bot records {bot_qty:g})"
    return f"bot and broker agree on {broker_qty:g} {symbol}"


def _why_no_category(evidence: Mapping[str, Any]) -> str:
    if evidence["ghost_at_capture"] == GHOST_ABSENT:
        return f"no ghost when the evidence was captured: {_agreement(evidence)}"
    return f"the ghost could not be re-checked: broker unavailable ({evidence.get('broker_error') or 'positions'})"


def _summary(evidence: Mapping[str, Any], symbol: str) -> str:
    account, profile = evidence["account"], evidence["profile"]
    state = evidence["ghost_at_capture"]
    if state == GHOST_PRESENT:
        return (
            f"ghost position: broker holds {evidence['broker_qty']:g} {symbol} on account {account}, the bot records "
            f"{evidence['bot_qty']:g} (profile {profile}); suggested cause: {evidence['suggested_category']}"
        )
    if state == GHOST_ABSENT:
        return (
            f"no ghost at capture: {_agreement(evidence)} on account {account} (profile {profile}); the alert may"
            " be late or the position settled; no root cause suggested"
        )
    return (
        f"ghost not re-checked: broker unavailable ({evidence.get('broker_error') or 'positions'}); "
        f"{symbol} on account {account} (profile {profile})"
    )


def _bot_side(ctx: ActionContext, profile: str, held: Instrument, limit: int) -> dict[str, Any]:
    """The profile's orders and positions in the instrument, in any of its spellings."""
    bot = ctx.services.bot
    return {
        "bot_orders": [bot_order_view(order) for order in bot.orders_of(profile, held.spellings, limit)],
        "bot_positions": [bot_position_view(p) for p in bot.positions_of(profile, held.spellings, limit)],
    }


def _broker_side(broker: BrokerClient, held: Instrument, limit: int) -> dict[str, Any]:
    try:
        position = broker.get_position(held)  # the compact form for crypto: a 404 then really means flat
        broker_orders = broker.list_orders(status="all", limit=limit, symbols=held.symbol)
    except BrokerUnavailable as exc:
        return {"broker_position": None, "broker_orders": [], "broker_error": exc.kind}
    return {
        "broker_position": position_view(position) if position else None,
        "broker_orders": [broker_order_view(order) for order in broker_orders],
        "broker_error": None,
    }


def exit_orders(evidence: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The bot's orders that would have closed its last position (opposite side, placed after it opened)."""
    closed = [p for p in evidence["bot_positions"] if p["status"] == "closed"]
    broker_position = evidence.get("broker_position") or {}
    if closed:
        last = closed[0]
        long_position, opened_at = last["qty"] > 0, last["opened_at"] or ""
    else:
        long_position, opened_at = broker_position.get("qty", 0) >= 0, ""
    side = "sell" if long_position else "buy"
    return [o for o in evidence["bot_orders"] if o["side"] == side and (o["created_at"] or "") >= opened_at]


def suggest_category(broker: BrokerClient, evidence: Mapping[str, Any]) -> tuple[str, str, list[dict[str, Any]]]:
    """Suggest the RCA category from the exit orders and what the broker says about them."""
    exits = exit_orders(evidence)
    if not exits:
        return "stale local state", "the bot closed the position with no exit order", []
    if any(order["rejected"] for order in exits):
        return "rejected exit", "the bot recorded its exit order as rejected", exits
    checked = []
    for order in exits:
        lookup = confirmed_missing(broker, None, order["client_order_id"])
        checked.append({**order, **lookup.as_dict()})
        if lookup.result == "found" and lookup.order and lookup.order.status == "rejected":
            return "rejected exit", f"the broker rejected exit order {order['client_order_id']}", checked
        if lookup.result == "missing":
            reason = f"the broker does not know exit order {order['client_order_id']} (404 twice)"
            return "exchange timeout", reason, checked
    return "undetermined", "the exit orders' fate at the broker could not be established", checked
