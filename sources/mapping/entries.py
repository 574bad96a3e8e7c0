"""How new entries of a profile are stopped and resumed, and how that state is read back: one of three
mechanisms, chosen by ``mechanism``.

- ``column``: a column of the profile's row, compare-and-set (``UPDATE ... WHERE id = ? AND column IN
  enabled``); a status enum or a boolean.
- ``lock_table``: a row INSERTed into a lock table stops entries until it expires or is lifted (the bot
  reads the table every cycle); resuming lifts only the locks written with `values`.
- ``control_api``: the bot's own authenticated HTTP API; the state is read back from another call.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

Scalar = bool | int | float | str
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _template_url(value: str) -> str:
    parts = urlsplit(value.replace("{profile}", "p"))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"expected an http:// or https:// URL, got {value!r}")
    if re.search(r"\{(?!profile\})", value):
        raise ValueError("the only placeholder is {profile}")
    return value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _error(key: str, message: str) -> PydanticCustomError:
    return PydanticCustomError("mapping_key", "{key}: {message}", {"key": key, "message": message})


class ColumnEntries(_Model):
    mechanism: Literal["column"]
    column: str
    enabled: tuple[Scalar, ...] = Field(min_length=1, description="values meaning entries are allowed")
    stopped: tuple[Scalar, ...] = Field(min_length=1, description="values meaning entries are stopped")
    stop: Scalar = Field(description="written to stop entries (only over an enabled value)")
    resume: Scalar = Field(description="written to resume entries (only over the stop value)")
    touch: str | None = Field(None, description="a timestamp column set to now by each write")

    @model_validator(mode="after")
    def _values_fit(self) -> ColumnEntries:
        if set(self.enabled) & set(self.stopped):
            raise _error("stopped", f"{sorted(map(str, set(self.enabled) & set(self.stopped)))} also listed as enabled")
        if self.stop not in self.stopped:
            raise _error("stop", f"{self.stop!r} is not one of the stopped values")
        if self.resume not in self.enabled:
            raise _error("resume", f"{self.resume!r} is not one of the enabled values")
        return self


class LockEntries(_Model):
    mechanism: Literal["lock_table"]
    table: str
    profile_column: str | None = Field(None, description="the lock's column naming the profile (else: all)")
    values: dict[str, Scalar] = Field(default_factory=dict, description="written by each lock; identify ours")
    match: dict[str, tuple[Scalar, ...]] = Field(
        default_factory=dict, description="column -> values: which locks stop every entry (default: any)"
    )
    starts_at: str | None = None
    ends_at: str | None = None
    duration_seconds: float = Field(86_400.0, gt=0, description="a lock written ends this long after now")
    active: str | None = Field(None, description="boolean column: true while the lock holds; resume writes false")
    timestamps: Literal["aware", "naive_utc", "epoch_seconds", "epoch_millis"] | None = None

    @model_validator(mode="after")
    def _lock_fits(self) -> LockEntries:
        if self.active is None and self.ends_at is None:
            raise _error("active", "give active or ends_at: a lock must be liftable to resume entries")
        for column, accepted in self.match.items():
            if column in self.values and self.values[column] not in accepted:
                raise _error(
                    f"values.{column}", f"{self.values[column]!r} is not in match.{column}: the lock would stop nothing"
                )
        return self


class HttpCall(_Model):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    url: str = Field(description="http(s) URL; {profile} is replaced by the profile id")
    body: dict[str, Any] | None = None

    _check_url = field_validator("url")(_template_url)


class HttpState(_Model):
    url: str
    field: str = Field(description="dotted path of the JSON field holding the state, e.g. status.entries")
    stopped: tuple[Scalar, ...] = Field(min_length=1)
    running: tuple[Scalar, ...] = Field((), description="values meaning running (default: any other value)")

    _check_url = field_validator("url")(_template_url)


class ControlAuth(_Model):
    bearer_env: str | None = None
    basic_user_env: str | None = None
    basic_password_env: str | None = None

    @model_validator(mode="after")
    def _one_scheme(self) -> ControlAuth:
        basic = (self.basic_user_env, self.basic_password_env)
        if any(basic) != all(basic) or bool(self.bearer_env) == any(basic):
            raise _error("bearer_env", "give bearer_env, or basic_user_env and basic_password_env")
        for name in (self.bearer_env, *basic):
            if name is not None and not _ENV_NAME.fullmatch(name):
                raise _error("bearer_env", f"not an environment variable name: {name!r}")
        return self

    def env_names(self) -> tuple[str, ...]:
        return tuple(name for name in (self.bearer_env, self.basic_user_env, self.basic_password_env) if name)


class ControlApiEntries(_Model):
    mechanism: Literal["control_api"]
    stop: HttpCall
    resume: HttpCall
    state: HttpState
    auth: ControlAuth | None = None
    timeout_seconds: float = Field(5.0, gt=0)


Entries = Annotated[ColumnEntries | LockEntries | ControlApiEntries, Field(discriminator="mechanism")]
