"""Each statement the exporters run against the bot's database, explained by the database (PostgreSQL
``EXPLAIN``, SQLite ``EXPLAIN QUERY PLAN``) and timed as a real read of its first rows."""

from __future__ import annotations

from dataclasses import replace

from doctor.context import Context, utc_now
from doctor.report import Result, fail, ok, skipped, warn

READ_ROWS = 100
SLOW_SECONDS = 1.0  # a scrape must answer within its budget (exporters.scrape_budget_seconds, 1.8 s locally)


def check_queries(ctx: Context) -> list[Result]:
    if not ctx.mapping_fits:
        return [skipped("queries", "the mapping does not fit the database")]
    diagnostics = ctx.bot.diagnostics()
    results = []
    for name, statement in ctx.bot.statements(utc_now()).items():
        plan = diagnostics.explain(name, statement, READ_ROWS)
        check = f"query {name}"
        if plan.error:
            results.append(fail(check, f"query {name}: the database refused it: {plan.error}"))
            continue
        shown = plan.lines[0] if plan.lines else "no plan"
        more = f" (+{len(plan.lines) - 1} lines)" if len(plan.lines) > 1 else ""
        detail = f"{plan.rows} rows; plan: {shown}{more}"
        slow = plan.seconds > SLOW_SECONDS
        made = warn(check, f"slow ({plan.seconds:.2f} s): {detail}") if slow else ok(check, detail)
        results.append(replace(made, seconds=plan.seconds))
    missing = diagnostics.stale_index_missing()
    table = ctx.bot.mapping.orders.table
    status = ctx.bot.mapping.orders.status
    if missing:
        wanted = ", ".join(f"({status}, {clock})" for clock in missing)
        results.append(warn("index for stale orders", f"no index on {table} {wanted}: each scrape reads every order"))
    else:
        results.append(ok("index for stale orders", f"{table} has an index on ({status}, clock) for each stale rule"))
    return results
