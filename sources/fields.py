"""Reading fields of Alpaca's JSON objects: required values and finite numbers (Alpaca sends numbers as strings).

Each raises ValueError naming the field, which the broker client turns into "no usable answer"."""

from __future__ import annotations

import math
from typing import Any


def required(raw: dict[str, Any], key: str) -> Any:
    value = raw.get(key)
    if value is None or value == "":
        raise ValueError(f"{key} is missing")
    return value


def number(raw: dict[str, Any], key: str, *, is_required: bool = False) -> float:
    """A finite number from a decimal string or number; absent optional fields read as 0."""
    value = required(raw, key) if is_required else raw.get(key)
    if value is None or value == "":
        return 0.0
    try:
        found = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{key} is not a number: {str(value)[:40]!r}") from None
    if not math.isfinite(found):
        raise ValueError(f"{key} is not a finite number: {str(value)[:40]!r}")
    return found
