"""``python -m doctor --config FILE [--suggest] [--log-lines N]`` (``make doctor CONFIG=FILE``): the checks
in order, a readiness table, exit 0 only when nothing blocks, else 1 with the last line naming the first
blocking problem. Read-only: writes are rehearsed in transactions that are rolled back."""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import TextIO

from sqlalchemy.exc import SQLAlchemyError

from common.config import Config, ConfigError, load_config
from doctor.accesslog import check_access_log
from doctor.context import Context, http_session
from doctor.endpoints import check_endpoints
from doctor.queries import check_queries
from doctor.report import Result, blocked_line, fail, first_blocking, table, timed
from doctor.schema import check_links, check_schema
from doctor.services import check_broker, check_supabase
from doctor.suggest import suggest_for
from doctor.values import check_values
from doctor.writes import check_writes
from sources.botdata import open_bot_data, resolve_entries_hooks
from sources.botdata.relations import reason_of
from sources.hooks import HookSpec
from sources.mapping import ControlApiEntries

Check = Callable[[Context], list[Result]]
CHECKS: tuple[tuple[str, Check], ...] = (
    ("tables and columns", check_schema),
    ("references", check_links),
    ("values", check_values),
    ("queries", check_queries),
    ("writes", check_writes),
    ("access log", check_access_log),
    ("bot endpoints", check_endpoints),
    ("broker", check_broker),
    ("supabase auth", check_supabase),
)


def parser() -> argparse.ArgumentParser:
    made = argparse.ArgumentParser(prog="python -m doctor", description=__doc__)
    made.add_argument("--config", default="config/local.yml", help="the YAML of the services (default: %(default)s)")
    made.add_argument("--suggest", action="store_true",
                      help="print a starting mapping (bot_db.mapping) guessed from the bot's database, and exit")
    made.add_argument("--log-lines", type=_positive, default=1000, metavar="N",
                      help="how many of the access log's last lines to read (default: %(default)s)")
    return made


def _positive(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of lines >= 1, got {value!r}")
    return int(value)


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None, out: TextIO = sys.stdout) -> int:
    args = parser().parse_args(argv)
    env = dict(os.environ if env is None else env)
    if args.suggest:
        return suggest_for(args.config, env, out)
    results = run(args.config, env, args.log_lines)
    print(table(results), file=out)
    blocking = first_blocking(results)
    if blocking is None:
        print("doctor: ready, nothing blocks", file=out)
        return 0
    print(blocked_line(blocking), file=out)
    return 1


def run(config_path: str, env: Mapping[str, str], log_lines: int = 1000) -> list[Result]:
    """Every check, in order; none stops the others (a database check skips when the mapping does not fit)."""
    try:
        config = load_config(config_path, env)
    except ConfigError as exc:
        return [fail("config", str(exc))]
    results = [Result("config", "ok", f"{config.source} validates")]
    control, problem = _control_calls(config, env)
    session = http_session()
    bot = open_bot_data(config.bot_db, http=session, control=control)
    ctx = Context(config, bot, env, session, log_lines, control_problem=problem)
    try:
        for name, check in CHECKS:
            results += timed(functools.partial(_guarded, name, check, ctx))
    finally:
        bot.dispose()
        ctx.http.close()
    return results


def _control_calls(config: Config, env: Mapping[str, str]) -> tuple[dict[str, HookSpec], str]:
    """The control API's calls (when entries go through it) with their secrets, or the problem setting them up."""
    entries = config.bot_db.mapping.profiles.entries
    if not isinstance(entries, ControlApiEntries):
        return {}, ""
    try:
        return resolve_entries_hooks(entries, env), ""
    except ConfigError as exc:
        return {}, str(exc)


def _guarded(name: str, check: Check, ctx: Context) -> list[Result]:
    try:
        return check(ctx)
    except ConfigError as exc:
        return [fail(name, str(exc))]
    except SQLAlchemyError as exc:
        return [fail(name, f"bot_db: {name}: {reason_of(exc)}")]
    except Exception as exc:  # one check's surprise is a row of the table, never a traceback
        return [fail(name, f"{name}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")]
