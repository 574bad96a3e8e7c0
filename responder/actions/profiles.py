"""Stop new entries for the impacted profile: set it inactive in the bot's DB (runbook 1, step 1).

Compare-and-set: ``UPDATE profiles SET status='inactive' WHERE id=? AND status='active'``. When no row
changed the profile is read again: already inactive is success (``unchanged``); still active is a
FAILURE — a write that changed nothing (e.g. a Supabase anon-key fallback under row-level security).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select, update

from common.db import write_transaction
from responder.actions.context import ActionContext
from responder.actions.registry import ActionSpec, Outcome, Params
from responder.evidence import Evidence
from responder.ledger.schema import DEACTIVATION_BUDGET
from sources.botdb import PROFILE_ACTIVE, PROFILE_INACTIVE, profiles


class ProfileParams(Params):
    profile_label: str = "profile"


def profile_status(engine: Engine, profile_id: str) -> str | None:
    with engine.connect() as conn:
        status: str | None = conn.execute(select(profiles.c.status).where(profiles.c.id == profile_id)).scalar()
    return status


def set_profile_status(
    engine: Engine, profile_id: str, expected: str, status: str, now: datetime
) -> tuple[bool, str | None]:
    """Compare-and-set a profile's status from `expected`; (whether this write changed it, status read back).

    A status that is not `status` afterwards means the write had no effect (missing write rights)."""
    with write_transaction(engine) as conn:
        changed = conn.execute(
            update(profiles)
            .where(profiles.c.id == profile_id, profiles.c.status == expected)
            .values(status=status, updated_at=now)
        ).rowcount
        after: str | None = conn.execute(select(profiles.c.status).where(profiles.c.id == profile_id)).scalar()
    return changed == 1, after


def _state(ctx: ActionContext, params: ProfileParams) -> dict[str, Any]:
    profile_id = ctx.require_label(params.profile_label)
    return {"profile": profile_id, "status": profile_status(ctx.services.bot_engine, profile_id)}


def snapshot(ctx: ActionContext, params: ProfileParams) -> Mapping[str, Any]:
    return _state(ctx, params)


def precheck(ctx: ActionContext, params: ProfileParams) -> Outcome | None:
    """Nothing to do (and no budget spent) when the profile is already inactive."""
    state = _state(ctx, params)
    if state["status"] is None:
        return Outcome.failed(f"profile {state['profile']!r} is not in the bot's database", **state)
    if state["status"] == PROFILE_INACTIVE:
        return Outcome("succeeded", "unchanged", {**state, "summary": f"profile {state['profile']} already inactive"})
    return None


def preview(ctx: ActionContext, params: ProfileParams) -> Evidence:
    state = _state(ctx, params)
    summary = f"set profile {state['profile']} inactive (now {state['status'] or 'missing'}): no new entries"
    return Evidence(summary, (state,), {"profile": state["profile"], "status": state["status"]})


def deactivate_profile(ctx: ActionContext, params: ProfileParams) -> Outcome:
    profile_id = ctx.require_label(params.profile_label)
    engine = ctx.services.bot_engine
    changed, status = set_profile_status(engine, profile_id, PROFILE_ACTIVE, PROFILE_INACTIVE, ctx.now())
    after = {"profile": profile_id, "status": status}
    if status == PROFILE_INACTIVE:
        detail = "changed" if changed else "unchanged"
        summary = f"profile {profile_id} set inactive" if changed else f"profile {profile_id} already inactive"
        return Outcome("succeeded", detail, {**after, "summary": summary}, after=after)
    return Outcome(
        "failed",
        "no_effect",
        after,
        after=after,
        error=f"the update changed {int(changed)} rows and profile {profile_id!r} is {status or 'missing'}: "
        "the write had no effect (a key without write rights, e.g. an anon-key fallback under row-level security?)",
    )


SPECS: tuple[ActionSpec[Any], ...] = (
    ActionSpec(
        "deactivate_profile",
        ProfileParams,
        deactivate_profile,
        "mutate",
        "set the alert's profile inactive (compare-and-set on status 'active')",
        precheck=precheck,
        snapshot=snapshot,
        budget=DEACTIVATION_BUDGET,
        preview=preview,
    ),
)
