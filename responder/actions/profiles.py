"""Stop new entries for the impacted profile (runbook 1, step 1: "set profile status to inactive in DB").

How entries are stopped is the mapping's (``bot_db.mapping.profiles.entries``): by default a
compare-and-set of the profile's status from ``active`` to ``inactive``; else another column's values, a
row in the bot's lock table, or its control API. The state is read back after the write: already stopped
is success (``unchanged``); still not stopped is a FAILURE — a write that changed nothing (e.g. a
Supabase anon-key fallback under row-level security).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from responder.actions.context import ActionContext
from responder.actions.registry import FAILED, SUCCEEDED, ActionSpec, Outcome, Params, StepOutput
from responder.evidence import Evidence
from responder.ledger.schema import DEACTIVATION_BUDGET
from sources.botdata import Entries


class ProfileParams(Params):
    profile_label: str = "profile"


class EntriesOutput(StepOutput):
    """The profile's entries state as read back: ``status`` the raw value (e.g. inactive), ``entries`` the
    state (enabled / stopped / unknown; None when the profile is not in the bot's database)."""

    profile: str
    status: str | None = None
    entries: str | None = None
    detail: str | None = None


def entries_view(profile_id: str, entries: Entries | None) -> dict[str, Any]:
    """The profile's entries state for evidence: `status` is the raw value read back (e.g. inactive)."""
    if entries is None:
        return {"profile": profile_id, "status": None, "entries": None}
    view: dict[str, Any] = {"profile": profile_id, "status": entries.value, "entries": entries.state}
    return {**view, "detail": entries.detail} if entries.detail else view


def _state(ctx: ActionContext, params: ProfileParams) -> dict[str, Any]:
    profile_id = ctx.require_label(params.profile_label)
    profile = ctx.services.bot.profile(profile_id)
    return entries_view(profile_id, profile.entries if profile else None)


def snapshot(ctx: ActionContext, params: ProfileParams) -> Mapping[str, Any]:
    return _state(ctx, params)


def precheck(ctx: ActionContext, params: ProfileParams) -> Outcome | None:
    """Nothing to do (and no budget spent) when the profile's entries are already stopped."""
    state = _state(ctx, params)
    if state["entries"] is None:
        error = f"profile {state['profile']!r} is not in the bot's database"
        return Outcome.failed(error, EntriesOutput(**state, summary=error))
    if state["entries"] == "stopped":
        summary = f"profile {state['profile']} already stopped ({state['status']})"
        return Outcome(SUCCEEDED, "unchanged", EntriesOutput(**state, summary=summary))
    return None


def preview(ctx: ActionContext, params: ProfileParams) -> Evidence:
    state = _state(ctx, params)
    summary = f"set profile {state['profile']} inactive (now {state['status'] or 'missing'}): no new entries"
    return Evidence(summary, (state,), {"profile": state["profile"], "status": state["status"]})


def deactivate_profile(ctx: ActionContext, params: ProfileParams) -> Outcome:
    profile_id = ctx.require_label(params.profile_label)
    change = ctx.services.bot.stop_entries(profile_id, ctx.now())
    after = entries_view(profile_id, change.entries)
    if change.entries.state == "stopped":
        detail = "changed" if change.changed else "unchanged"
        done = "set inactive" if change.changed else "already inactive"
        summary = f"profile {profile_id} {done} ({change.entries.value})"
        return Outcome(SUCCEEDED, detail, EntriesOutput(**after, summary=summary), after=after)
    return Outcome(
        FAILED,
        "no_effect",
        EntriesOutput(**after),
        after=after,
        error=f"the write changed {int(change.changed)} rows and profile {profile_id!r} is "
        f"{change.entries.value or change.entries.state}: the write had no effect (a key without write rights, "
        "e.g. an anon-key fallback under row-level security?)",
    )


SPECS: tuple[ActionSpec[Any], ...] = (
    ActionSpec(
        "deactivate_profile",
        ProfileParams,
        deactivate_profile,
        "mutate",
        "stop the alert's profile's new entries (compare-and-set, as the mapping says; read back)",
        output=EntriesOutput,
        precheck=precheck,
        snapshot=snapshot,
        budget=DEACTIVATION_BUDGET,
        preview=preview,
    ),
)
