"""The last lines of the bot's access log, read with the configured format: how many parse, and how they
classify (channel, auth failure / insufficient funds / other, status). A format that reads none blocks:
the auth alerts would never fire."""

from __future__ import annotations

from doctor.context import Context
from doctor.report import Result, fail, ok, skipped, warn
from sources.accesslog import LineFormat, sample_file

CHECK = "access log"


def check_access_log(ctx: Context) -> list[Result]:
    bot = ctx.config.bot
    if bot.access_log is None:
        return [skipped(CHECK, "bot.access_log is not set (auth signals from the bot's own counters)")]
    if not bot.access_log.is_file():
        return [fail(CHECK, f"bot.access_log: no file {str(bot.access_log)!r}")]
    line_format = LineFormat(bot.access_log_format)
    sample = sample_file(bot.access_log, line_format, ctx.log_lines)
    fmt = bot.access_log_format.format
    if not sample.lines:
        return [warn(CHECK, f"the log is empty: nothing to read as {fmt}")]
    if not sample.parsed:
        number, reason = sample.first_malformed[0]
        return [fail(CHECK, f"bot.access_log_format: none of the last {sample.lines} lines parse as {fmt} "
                            f"(line {number}: {reason})")]
    classes = ", ".join(f"{channel} {kind} {n}" for (channel, kind), n in sorted(sample.classes.items()))
    codes = ", ".join(f"{channel} {status} {n}" for (channel, status), n in sorted(sample.statuses.items())
                      if status in (401, 403))
    detail = f"{sample.parsed} of {sample.lines} lines parse as {fmt}; {classes}" + (f"; {codes}" if codes else "")
    if sample.malformed:
        number, reason = sample.first_malformed[0]
        return [warn(CHECK, f"{detail}; {sample.malformed} do not (line {number}: {reason})")]
    return [ok(CHECK, detail)]
