"""Ghost position (runbook 1): evidence (ghost_evidence.py), reconciliation, closing at the broker."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from responder.actions.context import ActionContext
from responder.actions.ghost_evidence import GhostEvidence, GhostParams, capture_ghost_evidence
from responder.actions.hooks import HookOutput, call_bot_hook, describe_bot_hook
from responder.actions.placing import close_size_of, place, reduce_only, step_client_order_id
from responder.actions.registry import SKIPPED, SUCCEEDED, ActionSpec, Outcome, Params, StepOutput
from responder.actions.views import PlacedOrder, PositionView, position_view
from responder.evidence import Evidence
from sources.broker import BrokerClient, BrokerPosition, BrokerUnavailable
from sources.instruments import Instrument, instrument
from sources.quantities import CloseSize


class BotHookParams(Params):
    account_label: str = "account"
    symbol_label: str = "symbol"
    profile_label: str = "profile"


def request_reconciliation(ctx: ActionContext, params: BotHookParams) -> Outcome:
    """Ask the bot to run its reconciliation cycle now (the ``bot.hooks.reconcile`` hook)."""
    context = {name: ctx.label(label) for name, label in _hook_labels(params).items()}
    outcome = call_bot_hook(ctx, "reconcile", {**context, "alert": ctx.alert.alertname}, "reconciliation requested")
    if outcome.result != SUCCEEDED:
        return outcome
    return Outcome(outcome.result, outcome.detail, outcome.output, after=account_positions(ctx, params))


def account_positions(ctx: ActionContext, params: BotHookParams) -> Mapping[str, Any]:
    """Position parity for the alert's account (the before/after state of a reconciliation)."""
    account = ctx.label(params.account_label)
    if account is None:
        return {"parity": None}
    try:
        return {"parity": ctx.services.parity(account).as_dict()}
    except BrokerUnavailable as exc:
        return {"parity": None, "broker_error": exc.kind}


def _hook_labels(params: BotHookParams) -> dict[str, str]:
    return {"account": params.account_label, "symbol": params.symbol_label, "profile": params.profile_label}


class CloseOutput(StepOutput):
    """The position a close saw at the broker, and the close order it placed (None: nothing placed)."""

    position: PositionView | None = None
    order: PlacedOrder | None = None


class CloseParams(Params):
    account_label: str = "account"
    symbol_label: str = "symbol"
    max_notional: float | None = None


@dataclass(frozen=True)
class Held:
    broker: BrokerClient
    instrument: Instrument
    position: BrokerPosition | None

    @property
    def view(self) -> dict[str, Any] | None:
        return position_view(self.position) if self.position else None


def _held(ctx: ActionContext, params: CloseParams) -> Held:
    broker = ctx.services.broker(ctx.require_label(params.account_label))
    wanted = instrument(ctx.require_label(params.symbol_label))
    return Held(broker, wanted, broker.get_position(wanted))


def _close_size(ctx: ActionContext, held: Held) -> CloseSize:
    """What a close sells: equities all; crypto what the broker holds, rounded down, dust left alone."""
    if held.position is None:
        return CloseSize(None, "flat")
    return close_size_of(ctx, held.broker, held.instrument, held.position)


def close_needed(ctx: ActionContext, params: CloseParams) -> Outcome | None:
    """Closing is only for positions above the notional threshold (``max_close_notional``), never for dust."""
    threshold = params.max_notional if params.max_notional is not None else ctx.services.responder.max_close_notional
    held = _held(ctx, params)  # a broker that does not answer (BrokerUnavailable) is retried by the executor
    position, symbol = held.view, held.instrument.symbol
    if position is None:
        return Outcome(SKIPPED, "not_needed", CloseOutput(summary=f"no open {symbol} position at the broker"))
    if position["notional"] <= threshold:
        summary = f"{symbol} notional {position['notional']:.2f} is within max_close_notional {threshold:.2f}"
        return Outcome(SKIPPED, "not_needed", CloseOutput.model_validate({"position": position, "summary": summary}))
    size = _close_size(ctx, held)
    if size.qty is None and size.dust:
        return Outcome(SKIPPED, "not_needed", CloseOutput.model_validate({"position": position,
                                                                          "summary": size.reason}))
    return None


def close_position(ctx: ActionContext, params: CloseParams) -> Outcome:
    held = _held(ctx, params)
    symbol = held.instrument.symbol
    if held.position is None:
        return Outcome(SUCCEEDED, "unchanged", CloseOutput(summary=f"no open {symbol} position"),
                       after={"position": None})
    size = _close_size(ctx, held)
    if size.qty is None and size.dust:
        return Outcome(SUCCEEDED, "unchanged", CloseOutput.model_validate({"position": held.view,
                                                                           "summary": size.reason}),
                       after={"position": held.view})
    if size.qty is None:
        return Outcome.failed(size.reason, CloseOutput.model_validate({"position": held.view,
                                                                       "summary": size.reason}))
    crypto = held.instrument.crypto
    account = ctx.require_label(params.account_label)
    close = reduce_only(held.instrument, held.position, abs(size.qty),
                        step_client_order_id(ctx, f"{account}-{held.instrument.position_symbol}"))
    placed, order = place(held.broker, close)
    what = size.reason if crypto else f"{held.position.qty} {symbol}"
    again = " (placed by an earlier attempt)" if placed.result == "already_placed" else ""
    client_id = close.order.client_order_id
    summary = f"closing {what} at market (order {placed.order.id}, client order id {client_id}{again})"
    if size.dust > 0:
        summary += f"; {size.dust:g} {symbol} left as dust"
    output = CloseOutput.model_validate({"order": order, "summary": summary})
    try:  # the close order exists now: an unreadable after-state must not turn it into a failed step
        found = held.broker.get_position(held.instrument)
        after: Any = {"position": position_view(found) if found else None}
    except BrokerUnavailable as exc:
        after = {"position": "unknown", "error": f"broker unavailable ({exc.kind})"}
    return Outcome(SUCCEEDED, "changed", output, after=after)


def close_snapshot(ctx: ActionContext, params: CloseParams) -> Mapping[str, Any]:
    return {"position": _held(ctx, params).view}


def close_preview(ctx: ActionContext, params: CloseParams) -> Evidence:
    """The position the step would close now: symbol, side, quantity and notional (the guard); for crypto also
    what the close would sell (the broker's quantity rounded down to ``min_trade_increment``) and the dust left."""
    held = _held(ctx, params)
    account = ctx.require_label(params.account_label)
    symbol, position = held.instrument.symbol, held.view
    if position is None:
        return Evidence(f"no open {symbol} position at the broker on {account}: nothing to close",
                        guard={"account": account, "symbol": symbol, "qty": 0.0})
    row = {"account": account, "symbol": symbol, "side": position["side"], "qty": position["qty"],
           "current_price": position["current_price"], "notional": round(position["notional"], 2)}
    summary = (f"close {abs(position['qty']):g} {symbol} ({position['side']}) on {account} at market, "
               f"notional {position['notional']:.2f}")
    if held.instrument.crypto:
        size = _close_size(ctx, held)
        row.update(sells=size.qty, dust_left=size.dust)
        summary = (f"close {size.reason} on {account} at market, notional {position['notional']:.2f}"
                   if size.qty is not None else f"{size.reason}: nothing to close on {account}")
    return Evidence(summary, (row,), {"account": account, "symbol": symbol, "qty": position["qty"]})


def reconcile_preview(ctx: ActionContext, params: BotHookParams) -> Evidence:
    """The account's position parity now: what the reconciliation is asked to fix."""
    parity = account_positions(ctx, params).get("parity") or {}
    rows = tuple(parity.get("mismatches") or ())
    account = ctx.label(params.account_label) or "?"
    summary = (f"ask the bot to reconcile account {account} ({describe_bot_hook(ctx, 'reconcile')}): "
               f"{len(rows)} symbol(s) differ from the broker")
    return Evidence(summary, rows)


SPECS: tuple[ActionSpec[Any], ...] = (
    ActionSpec(
        "capture_ghost_evidence",
        GhostParams,
        capture_ghost_evidence,
        "observe",
        "broker position and orders, bot orders and positions, suggested root cause",
        output=GhostEvidence,
    ),
    ActionSpec(
        "request_reconciliation",
        BotHookParams,
        request_reconciliation,
        "mutate",
        "run the bot's reconcile hook, an HTTP call or a command (parity of the account before and after)",
        output=HookOutput,
        snapshot=account_positions,
        preview=reconcile_preview,
    ),
    ActionSpec(
        "close_position",
        CloseParams,
        close_position,
        "mutate",
        "close the position at the broker when its notional exceeds max_close_notional",
        output=CloseOutput,
        precheck=close_needed,
        snapshot=close_snapshot,
        preview=close_preview,
    ),
)
