"""The mapping against the database: every mapped table and column exists and can be read, every raw-SQL
query returns its columns (the gateway's own start-up check), timestamp columns hold the mapping's format,
and every reference (a column or a join) links the rows it is followed from."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from common.config import ConfigError
from common.db import normalise_url
from doctor.context import Context
from doctor.report import Result, fail, ok, skipped, warn
from sources.botdata.diagnostics import Link
from sources.botdata.relations import PREFIX, reason_of
from sources.mapping import BotMapping, column_uses

TABLES = "tables and columns"
CLOCKS = "timestamp columns"


def check_schema(ctx: Context) -> list[Result]:
    """Tables and columns first (reflection), then their types, then one row of each read."""
    missing = _missing_sqlite_file(ctx.config.bot_db.url)
    if missing:
        return [fail(TABLES, f"bot_db.url: no database file {missing!r} (doctor never creates one)")]
    try:
        problems = ctx.bot.diagnostics().timestamp_problems()
    except ConfigError as exc:
        return [fail(TABLES, str(exc)), skipped(CLOCKS, "the mapping does not fit the database")]
    except SQLAlchemyError as exc:
        return [fail(TABLES, f"bot_db.url: cannot read the bot's database: {reason_of(exc)}")]
    uses = {(use.relation, use.column) for use in column_uses(ctx.bot.mapping)}
    tables = ok(TABLES, f"{len({relation for relation, _ in uses})} tables/queries, {len(uses)} columns as mapped")
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        return [tables, fail(CLOCKS, problems[0] + more)]
    try:
        ctx.bot.check()
    except ConfigError as exc:
        return [fail(TABLES, str(exc)), ok(CLOCKS, "every mapped clock holds its format")]
    ctx.mapping_fits = True
    return [tables, ok(CLOCKS, "every mapped clock holds its format")]


def _missing_sqlite_file(url: str) -> str | None:
    """The file of a SQLite URL that does not exist (connecting would create it, empty)."""
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return None if Path(str(parsed.database)).is_file() else str(parsed.database)


def check_links(ctx: Context) -> list[Result]:
    if not ctx.mapping_fits:
        return [skipped("references", "the mapping does not fit the database")]
    return [_link_result(link, ctx.bot.mapping) for link in ctx.bot.diagnostics().links()]


def _link_result(link: Link, mapping: BotMapping) -> Result:
    check = f"reference {link.key}"
    part, target = link.key.split(".")
    if link.error:
        return fail(check, f"{PREFIX}.{link.key}: {link.error}")
    via_profile = target == "account" and part != "profiles" and getattr(mapping, part).account is None
    key = f"{part}.profile -> profiles.id/account" if via_profile else link.key
    how = "through its profile (do the profile ids match?)" if via_profile else "(a join that links nothing? " \
        "check through/key/from)"
    if link.rows and link.unlinked == link.rows:
        return fail(check, f"{PREFIX}.{key}: none of the {link.rows} {part} rows reaches {_a(target)} {how}")
    if link.unlinked:
        return warn(check, f"{link.unlinked} of {link.rows} {part} rows reach no {target}")
    return ok(check, f"{link.rows} rows, all linked")


def _a(word: str) -> str:
    return f"an {word}" if word[0] in "aeiou" else f"a {word}"
