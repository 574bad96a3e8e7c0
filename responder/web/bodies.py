"""Request bodies of the operator API, parsed at the edge."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.config import JsonDict

from responder.payload import storable_text

MAX_ID = 2**53  # larger path ids cannot exist (and would overflow SQLite's INTEGER)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    by: str = Field(min_length=1, max_length=200)
    reason: str = Field("", max_length=2000)

    _text = field_validator("by", "reason")(storable_text)


# a rejection says why (responder.operations refuses one without a reason): the document says so too
REJECT_NEEDS_REASON: JsonDict = {
    "if": {"properties": {"decision": {"const": "reject"}}, "required": ["decision"]},
    "then": {"required": ["reason"], "properties": {"reason": {"pattern": r"\S"}}},
}


class DecisionBody(_Body):
    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=REJECT_NEEDS_REASON)

    decision: Literal["approve", "reject"]


class EnableBody(_Body):
    pass


class KillSwitchBody(_Body):
    level: Literal["stop-entries", "cancel-working", "flatten"]
    profiles: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(default_factory=list, max_length=1000)
    # no profiles: every profile the bot's database lists at engagement

    @field_validator("profiles")
    @classmethod
    def _storable_profiles(cls, value: list[str]) -> list[str]:
        return [storable_text(profile) for profile in value]
