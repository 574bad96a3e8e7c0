"""What a step waiting for a person shows: computed from the current state when it is shown.

`Evidence` is what an operator sees before deciding (a one-line summary and a table of what the step
will act on) plus a ``guard``: the facts the step re-checks right before it runs (the position's
quantity, the orders it cancels). When the guard read then differs from the one approved, the step does
not run: it waits for a new approval, showing the difference.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Evidence:
    summary: str
    rows: tuple[Mapping[str, Any], ...] = ()
    guard: Mapping[str, Any] | None = None
    available: bool = True  # False: the current state could not be read (nothing may be approved blind)

    def as_dict(self) -> dict[str, Any]:
        return {"summary": self.summary, "rows": [dict(row) for row in self.rows], "guard": self.guard,
                "available": self.available}

    @classmethod
    def from_dict(cls, raw: Any) -> Evidence | None:
        if not isinstance(raw, dict) or not isinstance(raw.get("summary"), str):
            return None
        rows = tuple(row for row in raw.get("rows") or () if isinstance(row, dict))
        guard = raw.get("guard")
        return cls(raw["summary"], rows, guard if isinstance(guard, dict) else None)


def guard_difference(approved: Mapping[str, Any] | None, current: Mapping[str, Any] | None) -> list[str]:
    """What changed between the approved guard and the current one, one line per key."""
    before, after = dict(approved or {}), dict(current or {})
    return [
        f"{key}: {before.get(key)!r} when approved, {after.get(key)!r} now"
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    ]
