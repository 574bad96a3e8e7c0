"""What each check found (`Result`), the readiness table, and the one line naming the first blocking problem."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

Status = Literal["ok", "warn", "FAIL", "skipped"]
DETAIL_WIDTH = 100


@dataclass(frozen=True)
class Result:
    check: str
    status: Status
    detail: str = ""
    seconds: float = 0.0

    @property
    def blocks(self) -> bool:
        return self.status == "FAIL"


def ok(check: str, detail: str = "") -> Result:
    return Result(check, "ok", detail)


def warn(check: str, detail: str) -> Result:
    return Result(check, "warn", detail)


def fail(check: str, detail: str) -> Result:
    """A blocking problem; `detail` is the one line that names it (and the key to fix)."""
    return Result(check, "FAIL", detail)


def skipped(check: str, why: str) -> Result:
    return Result(check, "skipped", why)


def timed(run: Callable[[], list[Result]]) -> list[Result]:
    """`run`'s results, the first one carrying the time the whole run took."""
    started = time.perf_counter()
    results = run()
    spent = time.perf_counter() - started
    if results and not results[0].seconds:
        first = results[0]
        results[0] = Result(first.check, first.status, first.detail, spent)
    return results


def first_blocking(results: Iterable[Result]) -> Result | None:
    return next((result for result in results if result.blocks), None)


def blocked_line(result: Result) -> str:
    return f"doctor: BLOCKED {result.detail}"


def table(results: list[Result]) -> str:
    """The readiness table: check | status | detail | time."""
    rows = [("check", "status", "detail", "time")]
    for result in results:
        detail = result.detail if len(result.detail) <= DETAIL_WIDTH else result.detail[: DETAIL_WIDTH - 3] + "..."
        spent = f"{result.seconds * 1000:.0f} ms" if result.seconds else ""
        rows.append((result.check, result.status, detail, spent))
    widths = [max(len(row[n]) for row in rows) for n in range(4)]
    lines = [" | ".join(cell.ljust(widths[n]) for n, cell in enumerate(row)).rstrip() for row in rows]
    lines.insert(1, "-+-".join("-" * width for width in widths))
    return "\n".join(lines)
