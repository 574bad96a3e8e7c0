"""How new entries of a profile are stopped and resumed, and how that state is read back: one of three
mechanisms, chosen by ``mechanism``.

- ``column``: a column of the profile's row, compare-and-set (``UPDATE ... WHERE id = ? AND column IN
  enabled``); a status enum or a boolean.
- ``lock_table``: a row INSERTed into a lock table stops entries until it expires or is lifted (the bot
  reads the table every cycle); resuming lifts only the locks written with `values`.
- ``control_api``: the bot's own authenticated API (or a command), called the way ``bot.hooks`` calls the
  bot; the state is read back from another call.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from common.bot_config import HookConfig

Scalar = bool | int | float | str


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


class EntriesState(_Model):
    """The call that tells whether entries are stopped: an HTTP call answering JSON (usually
    ``method: GET``) or a command printing it; `field` is the dotted path of the state in that JSON."""

    call: HookConfig
    field: str = Field(description="dotted path of the JSON field holding the state, e.g. config.max_open_trades")
    stopped: tuple[Scalar, ...] = Field(min_length=1)
    running: tuple[Scalar, ...] = Field((), description="values meaning running (default: any other value)")


class ControlApiEntries(_Model):
    """Calls of the bot's own control API (or commands), each a hook as ``bot.hooks`` describes them; a URL
    may hold ``{profile}``, replaced by the profile id."""

    mechanism: Literal["control_api"]
    stop: HookConfig
    resume: HookConfig
    state: EntriesState

    @model_validator(mode="after")
    def _placeholders(self) -> ControlApiEntries:
        for name, call in self.calls().items():
            if call.url is not None and re.search(r"\{(?!profile\})", call.url):
                raise _error(f"{name}.url", "the only placeholder is {profile}")
        return self

    def calls(self) -> dict[str, HookConfig]:
        return {"stop": self.stop, "resume": self.resume, "state.call": self.state.call}


Entries = Annotated[ColumnEntries | LockEntries | ControlApiEntries, Field(discriminator="mechanism")]
