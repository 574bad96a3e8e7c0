"""Stale pending orders (runbook 2): check each stale order at the broker, quarantine, cancel stuck ones.

- ``check_stale_orders`` (observe): every stale order (the mapping's stale rules), looked up at the broker
  by its broker id, else its client order id. Only a 404 counts as missing; timeouts, 5xx and 429 are
  ``unavailable`` and prove nothing, and so is an order the bot keeps neither id of.
- ``quarantine_missing_orders``: orders older than 24 h that the check found missing are looked up a
  second time; if the broker again answers 404 they get the mapping's quarantine word (``unknown``) via
  compare-and-set on the status they had (an order the sync service moved meanwhile is left alone).
- ``cancel_stuck_orders`` (approval by default): cancel orders still working at the broker.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from responder.actions.context import ActionContext, ActionError
from responder.actions.registry import FAILED, SKIPPED, SUCCEEDED, ActionSpec, Input, Outcome, Params, StepOutput
from responder.actions.views import BotOrderView, LookupView, bot_order_view, lookup_order
from responder.evidence import Evidence
from sources.broker import WORKING_ORDER_STATUSES, BrokerClient, BrokerRejected, BrokerUnavailable, OrderMissing

DAY_SECONDS = 86_400.0


class CheckedOrder(BotOrderView, LookupView):
    """A stale order and what the broker said about it, aged on the broker's clock."""

    age_seconds: float


class CheckOutput(StepOutput):
    orders: list[CheckedOrder]
    counts: dict[str, int]
    scope: Literal["profile", "all"]


class QuarantineOutput(StepOutput):
    quarantined: list[str] = []
    already: list[str] = []
    moved_on: list[str] = []
    not_confirmed: list[str] = []


class CancelOutput(StepOutput):
    cancel_requested: list[str] = []
    already_done: list[str] = []
    missing: list[str] = []
    refused: list[str] = []
    unavailable: list[str] = []


class CheckParams(Params):
    scope: Literal["profile", "all"] = "profile"
    profile_label: str = "profile"
    max_orders: int = 200


def check_stale_orders(ctx: ActionContext, params: CheckParams) -> Outcome:
    now = ctx.now()
    profile = ctx.require_label(params.profile_label) if params.scope == "profile" else None
    stale = ctx.services.bot.stale_orders(now, profile, params.max_orders)
    broker_for = ctx.services.brokers()
    checked: list[CheckedOrder] = []
    for order in stale:
        if order.account is None:
            raise ActionError(f"order {order.id} reaches no broker account: check bot_db.mapping (orders.account)")
        broker = broker_for(order.account)
        lookup = lookup_order(broker, order.broker_order_id, order.client_order_id)
        reference = _broker_clock(broker, now)
        created = order.created_at or order.stale_since or now
        age = round((reference - created).total_seconds(), 3)
        checked.append(CheckedOrder.model_validate({**bot_order_view(order), **lookup.as_dict(), "age_seconds": age}))
    counts = {kind: sum(1 for o in checked if o.broker == kind) for kind in ("found", "missing", "unavailable")}
    old_missing = sum(1 for o in checked if o.broker == "missing" and o.age_seconds >= DAY_SECONDS)
    summary = (
        f"{len(checked)} stale orders: {counts['found']} found at the broker, {counts['missing']} missing "
        f"({old_missing} older than 24 h), {counts['unavailable']} unverifiable (broker unavailable)"
    )
    output = CheckOutput(orders=checked, counts=counts, summary=summary, scope=params.scope)
    return Outcome(SUCCEEDED, "partial" if counts["unavailable"] else "captured", output)


def _broker_clock(broker: BrokerClient, now: datetime) -> datetime:
    """Ages are measured against the broker's clock (its Date header) when it sent one: no local clock skew."""
    seen = broker.last_server_time
    if seen is None:
        return now
    return seen if seen.tzinfo else seen.replace(tzinfo=UTC)


class FromCheckParams(Params):
    from_step: str = "check"
    older_than_hours: float = 24.0

    def inputs(self) -> tuple[Input, ...]:
        return (Input(self.from_step, "orders"),)


def _checked(ctx: ActionContext, params: FromCheckParams) -> list[CheckedOrder]:
    check = ctx.output(params.from_step, CheckOutput)
    if check is None:
        raise ActionError(f"step {params.from_step!r} of this run produced no order check")
    return list(check.orders)


def _quarantine_candidates(ctx: ActionContext, params: FromCheckParams) -> list[CheckedOrder]:
    min_age = params.older_than_hours * 3600
    return [o for o in _checked(ctx, params) if o.broker == "missing" and o.age_seconds >= min_age]


def quarantine_needed(ctx: ActionContext, params: FromCheckParams) -> Outcome | None:
    if not _quarantine_candidates(ctx, params):
        summary = "no stale order older than 24 h is missing at the broker"
        return Outcome(SKIPPED, "not_needed", StepOutput(summary=summary))
    return None


def _statuses(ctx: ActionContext, ids: list[str]) -> dict[str, str]:
    return ctx.services.bot.order_statuses(ids)


def quarantine_snapshot(ctx: ActionContext, params: FromCheckParams) -> Mapping[str, Any]:
    return {"statuses": _statuses(ctx, [o.id for o in _quarantine_candidates(ctx, params)])}


def quarantine_missing_orders(ctx: ActionContext, params: FromCheckParams) -> Outcome:
    results: dict[str, list[str]] = {"quarantined": [], "already": [], "moved_on": [], "not_confirmed": []}
    broker_for = ctx.services.brokers()
    for order in _quarantine_candidates(ctx, params):
        second = lookup_order(broker_for(_account(order)), order.broker_order_id, order.client_order_id)
        if second.result != "missing":
            results["not_confirmed"].append(order.id)
            continue
        results[ctx.services.bot.quarantine_order(order.id, order.status, ctx.now())].append(order.id)
    after = {"statuses": _statuses(ctx, [i for ids in results.values() for i in ids])}
    word = ctx.services.bot.mapping.orders.quarantine.write
    summary = (
        f"{len(results['quarantined'])} orders quarantined as '{word}' (missing at the broker twice, "
        f"older than {params.older_than_hours:g} h); {len(results['not_confirmed'])} not confirmed missing"
    )
    detail = "changed" if results["quarantined"] else "unchanged"
    return Outcome(SUCCEEDED, detail, QuarantineOutput(**results, summary=summary), after=after)


def _account(order: CheckedOrder) -> str:
    if order.account is None:
        raise ActionError(f"order {order.id} reaches no broker account: check bot_db.mapping (orders.account)")
    return order.account


def _cancel_candidates(ctx: ActionContext, params: FromCheckParams) -> list[CheckedOrder]:
    working = set(WORKING_ORDER_STATUSES) - {"pending_cancel"}  # already being cancelled: no cancel storm
    return [o for o in _checked(ctx, params) if o.broker == "found" and o.broker_status in working]


def cancel_needed(ctx: ActionContext, params: FromCheckParams) -> Outcome | None:
    if not _cancel_candidates(ctx, params):
        return Outcome(SKIPPED, "not_needed", StepOutput(summary="no stale order is still working at the broker"))
    return None


def cancel_stuck_orders(ctx: ActionContext, params: FromCheckParams) -> Outcome:
    results: dict[str, list[str]] = {
        "cancel_requested": [],
        "already_done": [],
        "missing": [],
        "refused": [],
        "unavailable": [],
    }
    broker_for = ctx.services.brokers()
    for order in _cancel_candidates(ctx, params):
        results[_cancel_one(broker_for(_account(order)), order.broker_id or "")].append(order.id)
    summary = f"cancellation requested for {len(results['cancel_requested'])} stuck orders at the broker"
    after = {"results": {order_id: kind for kind, ids in results.items() for order_id in ids}}
    failed = bool(results["unavailable"] or results["refused"])
    error = "some cancellations could not be requested"
    output = CancelOutput(**results, summary=summary)
    if failed:
        return Outcome(FAILED, "partial", output, after=after, error=error)
    return Outcome(SUCCEEDED, "changed", output, after=after)


def cancel_snapshot(ctx: ActionContext, params: FromCheckParams) -> Mapping[str, Any]:
    """The broker statuses the check saw for the orders about to be cancelled."""
    return {"broker_statuses": {o.id: o.broker_status for o in _cancel_candidates(ctx, params)}}


def cancel_preview(ctx: ActionContext, params: FromCheckParams) -> Evidence:
    """The stale orders still working at the broker, re-read now: what the step would cancel (the guard)."""
    rows, working = [], []
    broker_for = ctx.services.brokers()
    for order in _cancel_candidates(ctx, params):
        lookup = lookup_order(broker_for(_account(order)), order.broker_id, order.client_order_id)
        status = lookup.order.status if lookup.order else lookup.result
        rows.append({"order": order.id, "broker_id": order.broker_id, "symbol": order.symbol,
                     "side": order.side, "qty": order.qty, "created_at": order.created_at, "broker_status": status})
        if status in WORKING_ORDER_STATUSES:
            working.append(order.id)
    working.sort()
    summary = f"cancel {len(working)} order(s) still working at the broker"
    return Evidence(summary, tuple(rows), {"orders": working})


def _cancel_one(broker: BrokerClient, broker_id: str) -> str:
    try:
        current = broker.get_order(broker_id)
        if current.status not in WORKING_ORDER_STATUSES or current.status == "pending_cancel":
            return "already_done"
        broker.cancel_order(broker_id)
    except OrderMissing:
        return "missing"
    except BrokerRejected:
        return "refused"
    except BrokerUnavailable:
        return "unavailable"
    return "cancel_requested"


SPECS: tuple[ActionSpec[Any], ...] = (
    ActionSpec(
        "check_stale_orders",
        CheckParams,
        check_stale_orders,
        "observe",
        "stale orders in the bot's DB and what the broker says about each",
        output=CheckOutput,
    ),
    ActionSpec(
        "quarantine_missing_orders",
        FromCheckParams,
        quarantine_missing_orders,
        "mutate",
        "mark >24 h orders missing at the broker (404 twice) as 'unknown' (compare-and-set)",
        output=QuarantineOutput,
        precheck=quarantine_needed,
        snapshot=quarantine_snapshot,
    ),
    ActionSpec(
        "cancel_stuck_orders",
        FromCheckParams,
        cancel_stuck_orders,
        "mutate",
        "cancel stale orders that are still working at the broker",
        output=CancelOutput,
        precheck=cancel_needed,
        snapshot=cancel_snapshot,
        preview=cancel_preview,
    ),
)
