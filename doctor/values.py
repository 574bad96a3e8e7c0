"""The distinct values of every enumerated field (order status and side, the enabled state, position status
and side) and which of them the mapping does not name: an unnamed value counts for no class (an order in
an unnamed status is never stale), so it blocks until the mapping names it."""

from __future__ import annotations

from doctor.context import Context
from doctor.report import Result, fail, ok, skipped
from sources.botdata import UnmappedValues

CAP = 50
FIX_KEY = {
    "orders.status": "orders.statuses",
    "orders.side": "orders.sides",
    "profiles.entries": "profiles.entries.enabled/stopped",
    "positions.open.status": "positions.open.status.open/closed",
    "positions.quantity.side": "positions.quantity.side.long/short",
}


def check_values(ctx: Context) -> list[Result]:
    if not ctx.mapping_fits:
        return [skipped("values", "the mapping does not fit the database")]
    every = {values.field: values for values in ctx.bot.unmapped_values(CAP, unmapped_only=False)}
    unmapped = {values.field: values for values in ctx.bot.unmapped_values(CAP)}
    return [_result(every[name], unmapped.get(name)) for name in every]


def _result(every: UnmappedValues, unmapped: UnmappedValues | None) -> Result:
    check = f"values {every.field}"
    listed = ", ".join(f"{value!r} ({rows})" for value, rows in every.counts.items())
    more = " ..." if every.truncated else ""
    if unmapped is not None and unmapped.counts:
        words = ", ".join(repr(value) for value in unmapped.counts)
        plural = "values" if len(unmapped.counts) > 1 else "value"
        verb = "are" if len(unmapped.counts) > 1 else "is"
        key = FIX_KEY.get(every.field, every.field)
        return fail(check, f"{every.field}: {plural} {words} {verb} not mapped (bot_db.mapping {key})")
    return ok(check, (listed + more) if listed else "no rows yet")
