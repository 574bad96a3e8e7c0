"""What a process costs, read from /proc: resident memory and CPU time, for a process and its children."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class ProcessUsage:
    pid: int
    name: str
    rss_mib: float
    cpu_seconds: float


def children(pid: int) -> list[int]:
    """Direct children of `pid` (Linux: /proc/<pid>/task/*/children)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def tree(pid: int) -> list[int]:
    """`pid` and all its descendants."""
    pids = [pid]
    for child in children(pid):
        pids += tree(child)
    return pids


def usage(pid: int) -> ProcessUsage | None:
    """RSS and user+system CPU seconds of one process; None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        statm = Path(f"/proc/{pid}/statm").read_text().split()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime
    return ProcessUsage(pid, _short(cmdline), int(statm[1]) * PAGE_SIZE / 2**20, cpu)


def tree_usage(pid: int) -> list[ProcessUsage]:
    return [u for u in (usage(p) for p in tree(pid)) if u is not None]


def cpu_seconds(pid: int) -> float:
    """CPU seconds of `pid` and its live descendants."""
    return sum(u.cpu_seconds for u in tree_usage(pid))


def _short(cmdline: str) -> str:
    words = cmdline.split()
    if len(words) >= 3 and words[1] == "-m":
        return " ".join(words[1:3])
    return os.path.basename(words[0]) if words else "?"
