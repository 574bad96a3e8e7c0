"""Evidence for the other alerts: position parity, broker reachability, quarantined orders, the
unauthenticated-trade probe. Read-only: they tell people what is true, the runbook's next steps are manual."""

from __future__ import annotations

from typing import Any

from responder.actions.context import ActionContext
from responder.actions.registry import SUCCEEDED, ActionSpec, NoParams, Outcome, Params, StepOutput
from responder.actions.views import BotOrderView, ParityRow, PositionView, View, bot_order_view, position_view
from sources.broker import BrokerUnavailable


class AccountParams(Params):
    account_label: str = "account"


class PositionEvidence(StepOutput):
    """Bot vs broker positions of one account; ``broker_error`` when the broker could not be read."""

    account: str
    bot: dict[str, float] = {}
    broker: dict[str, float] = {}
    mismatches: list[ParityRow] = []
    explained: list[ParityRow] = []
    broker_error: str | None = None


class AccountReach(View):
    ok: bool
    positions: list[PositionView] = []
    error: str | None = None
    http_status: int | None = None


class BrokerCheck(StepOutput):
    accounts: dict[str, AccountReach]


class QuarantineEvidence(StepOutput):
    orders: list[BotOrderView]


class UnauthenticatedTrade(StepOutput):
    http_status: int | None
    rejected: bool


def capture_position_evidence(ctx: ActionContext, params: AccountParams) -> Outcome:
    """Bot vs broker positions for the alert's account (bot summed per instrument over the account's profiles)."""
    account = ctx.require_label(params.account_label)
    try:
        parity = ctx.services.parity(account)
    except BrokerUnavailable as exc:
        output = PositionEvidence(account=account, broker_error=exc.kind, summary=f"broker unreadable ({exc.kind})")
        return Outcome(SUCCEEDED, "partial", output)
    mismatched = ", ".join(
        f"{m['symbol']} bot {m['bot_qty']:g} vs broker {m['broker_qty']:g}" for m in parity.mismatches
    )
    summary = f"account {account}: " + (f"positions differ: {mismatched}" if mismatched else "positions match")
    if parity.explained:
        ignored = ", ".join(f"{e['symbol']} bot {e['bot_qty']:g} vs broker {e['broker_qty']:g}"
                            for e in parity.explained)
        summary += f"; crypto differences within the fee paid in the asset or dust (not mismatches): {ignored}"
    return Outcome(SUCCEEDED, "captured", PositionEvidence.model_validate({**parity.as_dict(), "summary": summary}))


def _accounts(ctx: ActionContext, params: AccountParams) -> list[str]:
    labelled = ctx.label(params.account_label)
    if labelled:
        return [labelled]
    return [account.id for account in ctx.services.bot.accounts()]


def check_broker(ctx: ActionContext, params: AccountParams) -> Outcome:
    """Read each account's positions once: which accounts the broker answers for, and how the others fail."""
    results: dict[str, AccountReach] = {}
    for account in _accounts(ctx, params):
        try:
            held = ctx.services.broker(account).list_positions()
            results[account] = AccountReach.model_validate({"ok": True, "positions": [position_view(p) for p in held]})
        except BrokerUnavailable as exc:
            results[account] = AccountReach(ok=False, error=exc.kind, http_status=exc.status)
    failing = sorted(a for a, r in results.items() if not r.ok)
    summary = f"broker unreadable for {', '.join(failing)}" if failing else "broker answers for every account"
    return Outcome(SUCCEEDED, "captured", BrokerCheck(accounts=results, summary=summary))


class QuarantineParams(Params):
    profile_label: str = "profile"
    max_orders: int = 200


def capture_quarantine_evidence(ctx: ActionContext, params: QuarantineParams) -> Outcome:
    """The quarantined (``unknown``) orders awaiting manual review."""
    found = ctx.services.bot.quarantined_orders(ctx.label(params.profile_label), params.max_orders)
    summary = f"{len(found)} quarantined orders need manual review and a final status"
    orders = [bot_order_view(o) for o in found]
    return Outcome(SUCCEEDED, "captured", QuarantineEvidence.model_validate({"orders": orders, "summary": summary}))


def check_unauthenticated_trade(ctx: ActionContext, params: NoParams) -> Outcome:
    """Repeat the probe: POST an invalid order to /api/trade without credentials (it can never trade)."""
    answer = ctx.services.bot_api().trade_unauthenticated()
    rejected = answer.status in (401, 403)
    summary = f"unauthenticated /api/trade answered HTTP {answer.status or 'nothing'}" + (
        " (rejected, as it must be)" if rejected else " — NOT rejected: the auth layer is open"
    )
    return Outcome(SUCCEEDED, "captured", UnauthenticatedTrade(http_status=answer.status, rejected=rejected,
                                                               summary=summary))


SPECS: tuple[ActionSpec[Any], ...] = (
    ActionSpec("capture_position_evidence", AccountParams, capture_position_evidence, "observe", "position parity",
               output=PositionEvidence),
    ActionSpec("check_broker", AccountParams, check_broker, "observe", "which accounts the broker answers for",
               output=BrokerCheck),
    ActionSpec(
        "capture_quarantine_evidence", QuarantineParams, capture_quarantine_evidence, "observe", "quarantined orders",
        output=QuarantineEvidence,
    ),
    ActionSpec(
        "check_unauthenticated_trade",
        NoParams,
        check_unauthenticated_trade,
        "observe",
        "repeat the no-auth trade probe",
        output=UnauthenticatedTrade,
    ),
)
