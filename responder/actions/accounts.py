"""Evidence for the other alerts: position parity, broker reachability, quarantined orders, the
unauthenticated-trade probe. Read-only: they tell people what is true, the runbook's next steps are manual."""

from __future__ import annotations

from typing import Any

from responder.actions.context import ActionContext
from responder.actions.registry import ActionSpec, NoParams, Outcome, Params
from responder.actions.views import bot_order_view, position_view
from sources.broker import BrokerUnavailable


class AccountParams(Params):
    account_label: str = "account"


def capture_position_evidence(ctx: ActionContext, params: AccountParams) -> Outcome:
    """Bot vs broker positions for the alert's account (bot summed per instrument over the account's profiles)."""
    account = ctx.require_label(params.account_label)
    try:
        parity = ctx.services.parity(account)
    except BrokerUnavailable as exc:
        output = {"account": account, "broker_error": exc.kind, "summary": f"broker unreadable ({exc.kind})"}
        return Outcome("succeeded", "partial", output)
    mismatched = ", ".join(
        f"{m['symbol']} bot {m['bot_qty']:g} vs broker {m['broker_qty']:g}" for m in parity.mismatches
    )
    summary = f"account {account}: " + (f"positions differ: {mismatched}" if mismatched else "positions match")
    if parity.explained:
        ignored = ", ".join(f"{e['symbol']} bot {e['bot_qty']:g} vs broker {e['broker_qty']:g}"
                            for e in parity.explained)
        summary += f"; crypto differences within the fee paid in the asset or dust (not mismatches): {ignored}"
    return Outcome("succeeded", "captured", {**parity.as_dict(), "summary": summary})


def _accounts(ctx: ActionContext, params: AccountParams) -> list[str]:
    labelled = ctx.label(params.account_label)
    if labelled:
        return [labelled]
    return [account.id for account in ctx.services.bot.accounts()]


def check_broker(ctx: ActionContext, params: AccountParams) -> Outcome:
    """Read each account's positions once: which accounts the broker answers for, and how the others fail."""
    results: dict[str, Any] = {}
    for account in _accounts(ctx, params):
        try:
            held = ctx.services.broker(account).list_positions()
            results[account] = {"ok": True, "positions": [position_view(p) for p in held]}
        except BrokerUnavailable as exc:
            results[account] = {"ok": False, "error": exc.kind, "http_status": exc.status}
    failing = sorted(a for a, r in results.items() if not r["ok"])
    summary = f"broker unreadable for {', '.join(failing)}" if failing else "broker answers for every account"
    return Outcome("succeeded", "captured", {"accounts": results, "summary": summary})


class QuarantineParams(Params):
    profile_label: str = "profile"
    max_orders: int = 200


def capture_quarantine_evidence(ctx: ActionContext, params: QuarantineParams) -> Outcome:
    """The quarantined (``unknown``) orders awaiting manual review."""
    found = ctx.services.bot.quarantined_orders(ctx.label(params.profile_label), params.max_orders)
    summary = f"{len(found)} quarantined orders need manual review and a final status"
    return Outcome("succeeded", "captured", {"orders": [bot_order_view(o) for o in found], "summary": summary})


def check_unauthenticated_trade(ctx: ActionContext, params: NoParams) -> Outcome:
    """Repeat the probe: POST an invalid order to /api/trade without credentials (it can never trade)."""
    answer = ctx.services.bot_api().trade_unauthenticated()
    rejected = answer.status in (401, 403)
    summary = f"unauthenticated /api/trade answered HTTP {answer.status or 'nothing'}" + (
        " (rejected, as it must be)" if rejected else " — NOT rejected: the auth layer is open"
    )
    return Outcome("succeeded", "captured", {"http_status": answer.status, "rejected": rejected, "summary": summary})


SPECS: tuple[ActionSpec[Any], ...] = (
    ActionSpec("capture_position_evidence", AccountParams, capture_position_evidence, "observe", "position parity"),
    ActionSpec("check_broker", AccountParams, check_broker, "observe", "which accounts the broker answers for"),
    ActionSpec(
        "capture_quarantine_evidence", QuarantineParams, capture_quarantine_evidence, "observe", "quarantined orders"
    ),
    ActionSpec(
        "check_unauthenticated_trade",
        NoParams,
        check_unauthenticated_trade,
        "observe",
        "repeat the no-auth trade probe",
    ),
)
