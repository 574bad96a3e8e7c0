"""The kill switch's steps (`responder.killswitch` builds a level's run from them) and the playbook action
that engages it.

- ``stop_entries``: stop the new entries of each chosen profile (the gateway's compare-and-set, read back);
- ``cancel_working_orders``: cancel every order still working at the broker on those profiles' accounts;
- ``flatten_positions``: close every position the broker holds on those accounts, reduce-only, each order
  under a client order id derived from the step (a re-run finds it instead of placing a second);
- ``engage_kill_switch`` (playbooks): engage ``stop-entries`` for the alert's profile or for every profile.

An account shared by several profiles is cancelled and flattened as a whole: the broker knows accounts,
not profiles.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field

from responder.actions.context import ActionContext
from responder.actions.orders import CancelOutput, _cancel_one
from responder.actions.placing import Close, close_size_of, place, reduce_only, step_client_order_id
from responder.actions.profiles import entries_view
from responder.actions.registry import FAILED, SKIPPED, SUCCEEDED, ActionSpec, Outcome, Params, StepOutput
from responder.actions.views import PlacedOrder, PositionView, View, broker_order_view, position_view
from responder.evidence import Evidence
from responder.killswitch import KillSwitch, Refused
from responder.wakeup import Wakeup
from sources.broker import WORKING_ORDER_STATUSES, BrokerError, BrokerUnavailable
from sources.hooks import HookError, HookUnavailable


class KillParams(Params):
    profiles: tuple[str, ...] = Field(min_length=1, max_length=1000)


class StopEntriesOutput(StepOutput):
    stopped: list[str] = []
    already: list[str] = []
    failed: list[str] = []


class HeldPosition(PositionView):
    """A position the broker holds on an account, and what a flatten sells of it (None: nothing, see note)."""

    account: str
    sells: float | None = None
    dust_left: float = 0.0
    note: str = ""


class FlattenOrder(PlacedOrder):
    account: str


class RefusedClose(View):
    account: str
    symbol: str
    side: str
    qty: float
    client_order_id: str
    error: str


class FlattenOutput(StepOutput):
    """The close orders placed (or found placed by an earlier attempt), those refused, the positions left."""

    orders: list[FlattenOrder] = []
    refused: list[RefusedClose] = []
    left: list[HeldPosition] = []
    positions: list[HeldPosition] = []  # when nothing needed flattening: what was held


class EngageOutput(StepOutput):
    engagement: dict[str, Any]


def _profiles(ctx: ActionContext, params: KillParams) -> list[dict[str, Any]]:
    rows = []
    for profile_id in params.profiles:
        found = ctx.services.bot.profile(profile_id)
        rows.append(entries_view(profile_id, found.entries if found else None))
    return rows


def _accounts(ctx: ActionContext, params: KillParams) -> list[str]:
    bot = ctx.services.bot
    return sorted({a for p in params.profiles if (found := bot.profile(p)) for a in found.accounts})


def stop_snapshot(ctx: ActionContext, params: KillParams) -> Mapping[str, Any]:
    return {"profiles": _profiles(ctx, params)}


def stop_preview(ctx: ActionContext, params: KillParams) -> Evidence:
    rows = _profiles(ctx, params)
    running = [r["profile"] for r in rows if r["entries"] != "stopped"]
    return Evidence(f"stop the new entries of {len(running)} of {len(rows)} profile(s)", tuple(rows))


def stop_entries(ctx: ActionContext, params: KillParams) -> Outcome:
    results: dict[str, list[str]] = {"stopped": [], "already": [], "failed": []}
    after, errors = [], []
    for profile in params.profiles:
        try:
            change = ctx.services.bot.stop_entries(profile, ctx.now())
        except HookUnavailable:
            raise  # no answer: the whole step is retried; the profiles stopped so far read back "already"
        except HookError as exc:
            results["failed"].append(profile)
            errors.append(f"{profile}: {str(exc)[:200]}")
            continue
        after.append(entries_view(profile, change.entries))
        kind = "failed" if change.entries.state != "stopped" else "stopped" if change.changed else "already"
        results[kind].append(profile)
        if kind == "failed":
            errors.append(f"{profile}: still {change.entries.value or change.entries.state} after the write")
    summary = (f"new entries stopped on {len(results['stopped'])} profile(s), {len(results['already'])} already "
               f"stopped, {len(results['failed'])} not stopped")
    output = StopEntriesOutput(**results, summary=summary)
    if results["failed"]:
        return Outcome(FAILED, "partial", output, after={"profiles": after}, error="; ".join(errors)[:2000])
    return Outcome(SUCCEEDED, "changed" if results["stopped"] else "unchanged", output, after={"profiles": after})


def _working(ctx: ActionContext, params: KillParams) -> list[dict[str, Any]]:
    """Every order still working at the broker on the profiles' accounts (raises BrokerUnavailable)."""
    broker_for = ctx.services.brokers()
    rows = []
    for account in _accounts(ctx, params):
        for order in broker_for(account).list_orders(status="open"):
            if order.status in WORKING_ORDER_STATUSES:
                rows.append({"account": account, **broker_order_view(order)})
    return rows


def cancel_snapshot(ctx: ActionContext, params: KillParams) -> Mapping[str, Any]:
    return {"orders": _working(ctx, params)}


def cancel_preview(ctx: ActionContext, params: KillParams) -> Evidence:
    rows = _working(ctx, params)
    return Evidence(f"cancel {len(rows)} working order(s) at the broker", tuple(rows))


def cancel_working_orders(ctx: ActionContext, params: KillParams) -> Outcome:
    results: dict[str, list[str]] = {"cancel_requested": [], "already_done": [], "missing": [], "refused": [],
                                     "unavailable": []}
    broker_for = ctx.services.brokers()
    for order in _working(ctx, params):
        results[_cancel_one(broker_for(order["account"]), order["id"])].append(order["id"])
    try:
        after: Any = {"orders": _working(ctx, params)}
    except BrokerUnavailable as exc:
        after = {"orders": "unknown", "error": f"broker unavailable ({exc.kind})"}
    summary = f"cancellation requested for {len(results['cancel_requested'])} working order(s) at the broker"
    output = CancelOutput(**results, summary=summary)
    if results["refused"] or results["unavailable"]:
        return Outcome(FAILED, "partial", output, after=after, error="some cancellations could not be requested")
    return Outcome(SUCCEEDED, "changed" if results["cancel_requested"] else "unchanged", output, after=after)


def _positions(ctx: ActionContext, params: KillParams) -> list[tuple[str, Any]]:
    """(account, position) for every position the broker holds on the accounts (raises BrokerUnavailable)."""
    broker_for = ctx.services.brokers()
    return [(a, p) for a in _accounts(ctx, params) for p in broker_for(a).list_positions()]


def _plan(ctx: ActionContext, params: KillParams) -> list[dict[str, Any]]:
    """What flattening would do, position by position: the reduce-only close, or why none."""
    broker_for = ctx.services.brokers()
    rows = []
    for account, position in _positions(ctx, params):
        held = position.instrument
        size = close_size_of(ctx, broker_for(account), held, position)
        row: dict[str, Any] = {"account": account, **position_view(position), "sells": None,
                               "dust_left": size.dust, "note": size.reason}
        if size.qty is not None:
            client_id = step_client_order_id(ctx, f"{account}-{held.position_symbol}")
            row.update(sells=abs(size.qty), close=reduce_only(held, position, abs(size.qty), client_id))
        rows.append(row)
    return rows


def _shown(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "close"}


def flatten_needed(ctx: ActionContext, params: KillParams) -> Outcome | None:
    """Nothing to approve when no position above dust is held (an unreadable broker is retried)."""
    plan = _plan(ctx, params)
    if not any(row.get("close") for row in plan):
        summary = "nothing to flatten: no position above dust on the accounts"
        output = FlattenOutput.model_validate({"positions": [_shown(r) for r in plan], "summary": summary})
        return Outcome(SKIPPED, "not_needed", output)
    return None


def flatten_snapshot(ctx: ActionContext, params: KillParams) -> Mapping[str, Any]:
    return {"positions": [_shown(row) for row in _plan(ctx, params)]}


def flatten_preview(ctx: ActionContext, params: KillParams) -> Evidence:
    """The positions a flatten would close now (the guard: each position's quantity)."""
    plan = _plan(ctx, params)
    closing = [row for row in plan if row.get("close")]
    notional = sum(row["notional"] for row in closing)
    summary = f"close {len(closing)} position(s) reduce-only at market, notional {notional:.2f}"
    guard = {f"{row['account']}:{row['symbol']}": row["qty"] for row in plan}
    return Evidence(summary, tuple(_shown(row) for row in plan), guard)


def flatten_positions(ctx: ActionContext, params: KillParams) -> Outcome:
    broker_for = ctx.services.brokers()
    placed, refused, left = [], [], []
    for row in _plan(ctx, params):
        close: Close | None = row.get("close")
        if close is None:
            left.append(_shown(row))
            continue
        try:
            _, order = place(broker_for(row["account"]), close)
            placed.append({"account": row["account"], **order})
        except BrokerUnavailable:
            raise  # no answer: retried with the same client order ids, so an order that was placed is found
        except BrokerError as exc:
            refused.append({"account": row["account"], **close.view, "error": str(exc)[:300]})
    try:
        after: Any = {"positions": [{"account": a, **position_view(p)} for a, p in _positions(ctx, params)]}
    except BrokerUnavailable as exc:
        after = {"positions": "unknown", "error": f"broker unavailable ({exc.kind})"}
    summary = (f"{len(placed)} close order(s) placed reduce-only, {len(refused)} refused, {len(left)} position(s) "
               "left (dust or not sellable)")
    output = FlattenOutput.model_validate({"orders": placed, "refused": refused, "left": left, "summary": summary})
    if refused:
        return Outcome(FAILED, "partial", output, after=after, error="some close orders were refused")
    return Outcome(SUCCEEDED, "changed" if placed else "unchanged", output, after=after)


class EngageParams(Params):
    level: Literal["stop-entries"] = "stop-entries"  # playbooks may only stop entries; more is an operator's call
    scope: Literal["alert", "all"] = "all"
    profile_label: str = "profile"


def engage_kill_switch(ctx: ActionContext, params: EngageParams) -> Outcome:
    profiles = [ctx.require_label(params.profile_label)] if params.scope == "alert" else None
    by = f"playbook {ctx.alert.alertname}"
    reason = f"{ctx.alert.alertname} ({', '.join(f'{k}={v}' for k, v in sorted(ctx.alert.labels.items()))})"
    switch = KillSwitch(ctx.services.ledger_engine, ctx.services, Wakeup())
    engaged = switch.engage(params.level, profiles, by, reason[:2000], "playbook")
    if isinstance(engaged, Refused):
        return Outcome.failed(engaged.detail)
    engagement = engaged.engagement.as_dict()
    summary = (f"kill switch {params.level} engaged (run {engagement['run_id']})" if engaged.result == "engaged"
               else f"kill switch {params.level} already engaged (run {engagement['run_id']})")
    detail = "changed" if engaged.result == "engaged" else "unchanged"
    return Outcome(SUCCEEDED, detail, EngageOutput(engagement=engagement, summary=summary), after=engagement)


def engage_preview(ctx: ActionContext, params: EngageParams) -> Evidence:
    who = ctx.label(params.profile_label) if params.scope == "alert" else None
    target = f"profile {who}" if who else "every profile"
    return Evidence(f"engage the kill switch ({params.level}) for {target}: no new entries until re-armed")


SPECS: tuple[ActionSpec[Any], ...] = (
    ActionSpec("stop_entries", KillParams, stop_entries, "mutate",
               "kill switch: stop the new entries of the chosen profiles (compare-and-set, read back)",
               output=StopEntriesOutput, snapshot=stop_snapshot, preview=stop_preview),
    ActionSpec("cancel_working_orders", KillParams, cancel_working_orders, "mutate",
               "kill switch: cancel every working order at the broker on the profiles' accounts",
               output=CancelOutput, snapshot=cancel_snapshot, preview=cancel_preview),
    ActionSpec("flatten_positions", KillParams, flatten_positions, "mutate",
               "kill switch: close the broker-held positions on the profiles' accounts, reduce-only",
               output=FlattenOutput, precheck=flatten_needed, snapshot=flatten_snapshot, preview=flatten_preview),
    ActionSpec("engage_kill_switch", EngageParams, engage_kill_switch, "mutate",
               "engage the kill switch's stop-entries level (for the alert's profile or every profile)",
               output=EngageOutput, preview=engage_preview),
)
