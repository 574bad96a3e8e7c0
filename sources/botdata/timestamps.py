"""Timestamps as the bot stores them, always aware UTC datetimes on this side.

- ``aware``: ``timestamptz`` on PostgreSQL (naive UTC on SQLite, which has no time zones);
- ``naive_utc``: ``timestamp`` without a time zone, UTC by convention;
- ``epoch_seconds`` / ``epoch_millis``: numbers since 1970-01-01 UTC.

A value bound for comparison or written is converted the same way, so a cutoff compares with the column
in the column's own terms and the database can use its indexes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Dialect, Float
from sqlalchemy.types import DateTime, TypeDecorator, TypeEngine


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column; pass an aware datetime")
    return value.astimezone(UTC)


def _as_utc(value: datetime | None) -> datetime | None:
    """A timestamp read back: naive ones hold UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and returned timezone-aware, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = _utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return _as_utc(value)


class NaiveUTCDateTime(TypeDecorator[datetime]):
    """A timestamp without a time zone holding UTC: bound naive (never shifted by the session's zone)."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else _utc(value).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return _as_utc(value)


class EpochDateTime(TypeDecorator[datetime]):
    """Seconds (`scale` 1) or milliseconds (`scale` 1000) since the epoch; bound as an integer when the
    column holds integers."""

    impl = Float
    cache_ok = True

    def __init__(self, scale: int, integer: bool) -> None:
        super().__init__()
        self.scale = scale
        self.integer = integer

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        return dialect.type_descriptor(BigInteger() if self.integer else Float())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> float | int | None:
        if value is None:
            return None
        number = _utc(value).timestamp() * self.scale
        return int(number) if self.integer else number

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        number = float(value) if isinstance(value, int | float | Decimal) else float(str(value))
        return datetime.fromtimestamp(number / self.scale, UTC)


def timestamp_type(fmt: str, reflected: TypeEngine[Any] | None = None) -> TypeEngine[datetime]:
    """The column type for a timestamp stored as `fmt`; `reflected` is the database's own type, if known."""
    if fmt == "naive_utc":
        return NaiveUTCDateTime()
    if fmt in ("epoch_seconds", "epoch_millis"):
        integer = reflected is None or _holds_integers(reflected)
        return EpochDateTime(1 if fmt == "epoch_seconds" else 1000, integer)
    return UTCDateTime()


def _holds_integers(reflected: TypeEngine[Any]) -> bool:
    try:
        return reflected.python_type is int
    except NotImplementedError:
        return True
