"""Alertmanager's webhook payload (version 4) and API v2 alerts, parsed at the edge into typed objects.

Parsing is strict about what the responder relies on (types, required fields, sizes of the keys it
indexes, text that a database can store) and lenient about everything else: unknown keys, which newer
Alertmanager versions add (``notification_reason``, ``routeLabels``), are ignored.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError, field_validator

ZERO_TIME_YEAR = 1  # Alertmanager's "no end" timestamp is 0001-01-01T00:00:00Z
MAX_ALERTNAME = 200
MAX_LABEL_NAME = 256
MAX_FINGERPRINT = 64


class PayloadError(ValueError):
    """A webhook body that is not a usable Alertmanager v4 payload; the message says why (no values echoed)."""


def storable_text(value: str) -> str:
    """Refuse text a database cannot store: NUL characters and lone surrogates."""
    if "\x00" in value:
        raise ValueError("text contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text is not valid Unicode (lone surrogate)") from None
    return value


def _storable_mapping(value: dict[str, str]) -> dict[str, str]:
    for key, text in value.items():
        storable_text(key)
        storable_text(text)
        if not key or len(key) > MAX_LABEL_NAME:
            raise ValueError(f"label names must have 1 to {MAX_LABEL_NAME} characters")
    return value


# RFC 3339 date-time (Alertmanager writes Go's RFC3339Nano); not the Unix seconds pydantic would also take
RFC3339 = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})")


def _timestamp(value: Any) -> Any:
    if not isinstance(value, str) or not RFC3339.fullmatch(value):
        raise ValueError("timestamps must be RFC 3339 strings with a time zone")
    return value


def _integral(value: Any) -> Any:
    """JSON does not tell 3 from 3.0 (JSON Schema's "integer" accepts both): take an integral float as an int."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamps must carry a time zone")
    try:
        return value.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 is before year 1 in UTC
        raise ValueError("timestamp out of range in UTC") from None


Text = Annotated[StrictStr, Field(max_length=1_048_576)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class _AlertFields(_Model):
    """What a webhook alert and an API alert share."""

    labels: dict[StrictStr, StrictStr]
    annotations: dict[StrictStr, StrictStr] = Field(default_factory=dict)
    starts_at: datetime = Field(alias="startsAt")
    ends_at: datetime = Field(alias="endsAt")
    generator_url: Text = Field("", alias="generatorURL")
    fingerprint: StrictStr = Field(min_length=1, max_length=MAX_FINGERPRINT, pattern=r"^[A-Za-z0-9_.:-]+$")

    _maps = field_validator("labels", "annotations")(_storable_mapping)
    _url = field_validator("generator_url")(storable_text)
    _raw_times = field_validator("starts_at", "ends_at", mode="before")(_timestamp)
    _times = field_validator("starts_at", "ends_at")(_utc)


class Alert(_AlertFields):
    """One alert of a notification: its identity is (fingerprint, startsAt, status)."""

    status: Literal["firing", "resolved"]

    @field_validator("labels")
    @classmethod
    def _has_alertname(cls, value: dict[str, str]) -> dict[str, str]:
        name = value.get("alertname", "")
        if not name or len(name) > MAX_ALERTNAME:
            raise ValueError(f"labels.alertname must have 1 to {MAX_ALERTNAME} characters")
        return value

    @property
    def alertname(self) -> str:
        return self.labels["alertname"]

    @property
    def end(self) -> datetime | None:
        """The real end of a resolved alert, None for Alertmanager's zero time."""
        return None if self.ends_at.year == ZERO_TIME_YEAR else self.ends_at


class Notification(_Model):
    """A whole webhook delivery: one Alertmanager group."""

    version: Literal["4"]
    status: Literal["firing", "resolved"]
    receiver: Text = ""
    alerts: list[Alert] = Field(max_length=10_000)
    group_labels: dict[StrictStr, StrictStr] = Field(default_factory=dict, alias="groupLabels")
    common_labels: dict[StrictStr, StrictStr] = Field(default_factory=dict, alias="commonLabels")
    external_url: Text = Field("", alias="externalURL")
    group_key: Text = Field("", alias="groupKey")
    truncated_alerts: StrictInt = Field(0, ge=0, alias="truncatedAlerts")

    _maps = field_validator("group_labels", "common_labels")(_storable_mapping)
    _texts = field_validator("receiver", "external_url", "group_key")(storable_text)
    _count = field_validator("truncated_alerts", mode="before")(_integral)


def parse_notification(body: bytes) -> Notification:
    """Parse a webhook body; raise PayloadError naming the first problem (location and kind, no values)."""
    try:
        raw = json.loads(body)
    except (ValueError, RecursionError):
        raise PayloadError("body is not JSON") from None
    if not isinstance(raw, dict):
        raise PayloadError("body is not a JSON object")
    try:
        return Notification.model_validate(raw)
    except ValidationError as exc:
        raise PayloadError(describe_error(exc)) from None
    except RecursionError:
        raise PayloadError("body is nested too deeply") from None


def describe_error(exc: ValidationError) -> str:
    err = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in err["loc"])[:200] or "(top level)"
    return f"{where}: {err['msg']}"[:400]


class ApiAlert(_AlertFields):
    """An alert as Alertmanager's ``GET /api/v2/alerts`` lists it (only active ones are listed)."""

    status: dict[StrictStr, Any] = Field(default_factory=dict)
    receivers: list[dict[StrictStr, Any]] = Field(default_factory=list)

    @property
    def receiver_names(self) -> set[str]:
        """The receivers Alertmanager routes this alert to."""
        return {str(item.get("name", "")) for item in self.receivers}

    @property
    def state(self) -> str:
        """``active``, ``suppressed`` or ``unprocessed``."""
        return str(self.status.get("state", ""))

    def as_firing(self) -> Alert:
        """The firing webhook alert this API alert stands for."""
        return Alert.model_validate(
            {
                "status": "firing",
                "labels": self.labels,
                "annotations": self.annotations,
                "startsAt": self.starts_at.isoformat(),
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": self.generator_url,
                "fingerprint": self.fingerprint,
            }
        )
