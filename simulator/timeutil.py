"""Clocks and the timestamp formats the simulated services speak."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The real clock: an aware UTC datetime."""
    return datetime.now(UTC)


def rfc3339(value: datetime | None) -> str | None:
    """Render like Alpaca: ``2026-11-24T23:23:28.426123Z`` (None stays None)."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def http_date(value: datetime) -> str:
    """Render an HTTP ``Date`` header value."""
    return format_datetime(value.astimezone(UTC), usegmt=True)
