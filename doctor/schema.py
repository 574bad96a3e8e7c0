"""The mapping against the database: every mapped table and column exists and can be read, every raw-SQL
query returns its columns (the gateway's own start-up check), timestamp columns hold the mapping's format,
and every reference (a column or a join) links the rows it is followed from."""

from __future__ import annotations

from sqlalchemy.exc import SQLAlchemyError

from common.config import ConfigError
from doctor.context import Context
from doctor.report import Result, fail, ok, skipped, warn
from sources.botdata.diagnostics import Link
from sources.botdata.relations import PREFIX, reason_of
from sources.mapping import column_uses


def check_schema(ctx: Context) -> list[Result]:
    try:
        ctx.bot.check()
    except ConfigError as exc:
        return [fail("tables and columns", str(exc))]
    except SQLAlchemyError as exc:
        return [fail("tables and columns", f"bot_db.url: cannot read the bot's database: {reason_of(exc)}")]
    ctx.mapping_fits = True
    uses = {(use.relation, use.column) for use in column_uses(ctx.bot.mapping)}
    tables = len({relation for relation, _ in uses})
    return [ok("tables and columns", f"{tables} tables/queries, {len(uses)} columns as mapped")]


def check_clocks(ctx: Context) -> list[Result]:
    if not ctx.mapping_fits:
        return [skipped("timestamp columns", "the mapping does not fit the database")]
    problems = ctx.bot.diagnostics().timestamp_problems()
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        return [fail("timestamp columns", problems[0] + more)]
    return [ok("timestamp columns", "every mapped clock holds its format")]


def check_links(ctx: Context) -> list[Result]:
    if not ctx.mapping_fits:
        return [skipped("references", "the mapping does not fit the database")]
    return [_link_result(link) for link in ctx.bot.diagnostics().links()]


def _link_result(link: Link) -> Result:
    check = f"reference {link.key}"
    part = link.key.split(".")[0]
    if link.error:
        return fail(check, f"{PREFIX}.{link.key}: {link.error}")
    if link.rows and link.unlinked == link.rows:
        return fail(check, f"{PREFIX}.{link.key}: none of the {link.rows} {part} rows reaches a "
                           f"{link.key.split('.')[1]} (a join that links nothing? check through/key/from)")
    if link.unlinked:
        return warn(check, f"{link.unlinked} of {link.rows} {part} rows reach no {link.key.split('.')[1]}")
    return ok(check, f"{link.rows} rows, all linked")
