"""Each write the responder makes, rehearsed inside a transaction that is rolled back: stopping and resuming
a real profile's entries (compare-and-set) and quarantining a real order must each change exactly that one
row and read back the new state; the same writes for a made-up id must change nothing."""

from __future__ import annotations

from collections import Counter

from sqlalchemy.exc import SQLAlchemyError

from doctor.context import MADE_UP_ID, Context, utc_now
from doctor.report import Result, fail, ok, skipped, warn
from sources.botdata import BotData, Profile
from sources.botdata.relations import PREFIX, reason_of
from sources.mapping import ColumnEntries, ControlApiEntries, LockEntries

ENTRIES = "write profiles.entries"
QUARANTINE = "write orders.quarantine"
STATE_READS = 5  # profiles whose state is read through the bot's control API


def check_writes(ctx: Context) -> list[Result]:
    if not ctx.mapping_fits:
        return [skipped("writes", "the mapping does not fit the database")]
    return [_entries(ctx), _quarantine(ctx.bot)]


def _entries(ctx: Context) -> Result:
    bot = ctx.bot
    entries = bot.mapping.profiles.entries
    if isinstance(entries, ControlApiEntries):
        return _control_api_state(ctx)
    profile = next((p for p in bot.profiles() if p.entries.state == "enabled"), None)
    if profile is None:
        return warn(ENTRIES, "no profile has entries enabled: nothing to rehearse stopping on")
    if isinstance(entries, ColumnEntries):
        found = bot.diagnostics().rows_with_id("profiles", profile.id)
        if found != 1:
            return fail(ENTRIES, f"{PREFIX}.profiles.id: {found} rows of {bot.mapping.profiles.table!r} have id "
                                 f"{profile.id!r}: a write must match exactly one (the profile's own id column?)")
    problem = _rehearse_entries(bot, profile, isinstance(entries, LockEntries) and not entries.profile_column)
    if problem:
        return fail(ENTRIES, f"{PREFIX}.profiles.entries.{problem}")
    return ok(ENTRIES, f"profile {profile.id}: stopped and resumed, read back (rolled back)")


def _control_api_state(ctx: Context) -> Result:
    """The bot's control API is only read (state.call): stopping through it cannot be rolled back."""
    if ctx.control_problem:
        return fail(ENTRIES, ctx.control_problem)
    ids = sorted({pair.profile for pair in ctx.bot.profile_accounts()})[:STATE_READS]
    profiles = [profile for profile in map(ctx.bot.profile, ids) if profile is not None]
    unknown = next((p for p in profiles if p.entries.state == "unknown"), None)
    if unknown is not None:
        return fail(ENTRIES, f"{PREFIX}.profiles.entries.state: profile {unknown.id!r}: {unknown.entries.detail}")
    states = Counter(p.entries.state for p in profiles)
    read = ", ".join(f"{n} {state}" for state, n in sorted(states.items())) or "no profiles"
    return ok(ENTRIES, f"state read through the control API: {read} (stop and resume are never called by a check)")


def _rehearse_entries(bot: BotData, profile: Profile, shared_lock: bool) -> str | None:
    """What went wrong (the sub-key first), or None."""
    now = utc_now()
    step = "stop"
    try:
        with bot.rehearsal() as writes:
            stopped = writes.stop_entries(profile.id, now)
            if not stopped.changed or stopped.entries.state != "stopped":
                return (f"stop: stopping profile {profile.id!r} changed {'a row' if stopped.changed else 'no row'} "
                        f"and reads back {stopped.entries.state} ({stopped.entries.value})")
            step = "resume"
            resumed = writes.resume_entries(profile.id, now)
            if not resumed.changed or resumed.entries.state != "enabled":
                return (f"resume: resuming profile {profile.id!r} changed "
                        f"{'a row' if resumed.changed else 'no row'} "
                        f"and reads back {resumed.entries.state} ({resumed.entries.value})")
    except SQLAlchemyError as exc:
        return f"{step}: the write for profile {profile.id!r} failed: {reason_of(exc)}"
    if shared_lock:
        return None  # one lock stops every profile: a made-up one would be stopped too
    with bot.rehearsal() as writes:
        if writes.stop_entries(MADE_UP_ID, now).changed:
            return f"stop: stopping a made-up profile {MADE_UP_ID!r} changed a row"
    return None


def _quarantine(bot: BotData) -> Result:
    diagnostics = bot.diagnostics()
    order = diagnostics.sample_order()
    if order is None:
        return skipped(QUARANTINE, "no orders yet")
    found = diagnostics.rows_with_id("orders", order.id)
    if found != 1:
        return fail(QUARANTINE, f"{PREFIX}.orders.id: {found} rows of {bot.mapping.orders.table!r} have id "
                                f"{order.id!r}: a write must match exactly one (the order's own id column?)")
    now = utc_now()
    try:
        with bot.rehearsal() as writes:
            done = writes.quarantine_order(order.id, order.status, now)
        with bot.rehearsal() as writes:
            made_up = writes.quarantine_order(MADE_UP_ID, order.status, now)
    except SQLAlchemyError as exc:
        word = bot.mapping.orders.quarantine.write
        return fail(QUARANTINE, f"{PREFIX}.orders.quarantine.write: writing {word!r} failed: {reason_of(exc)}")
    if done != "quarantined":
        return fail(QUARANTINE, f"{PREFIX}.orders.quarantine: quarantining order {order.id!r} changed no row ({done})")
    if made_up == "quarantined":
        return fail(QUARANTINE, f"{PREFIX}.orders.id: quarantining a made-up order {MADE_UP_ID!r} changed a row")
    return ok(QUARANTINE, f"order {order.id} ({order.status}): quarantined, read back (rolled back)")
