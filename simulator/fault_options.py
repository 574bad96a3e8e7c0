"""The fault kinds and their options, validated the same way for the CLI and the control API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sources.botdb import WORKING_STATUSES


class FaultError(ValueError):
    """A fault request that cannot be applied; the message is one line naming the problem."""


class FaultOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _comma_list(value: Any) -> Any:
    """Accept ``"a,b"``, ``["a", "b"]`` or ``["a,b", "c"]``."""
    items = value if isinstance(value, list | tuple) else [value]
    if not all(isinstance(item, str) for item in items):
        return value
    return [part.strip() for item in items for part in item.split(",") if part.strip()]


class GhostOptions(FaultOptions):
    account: str | None = None
    symbol: str | None = None
    qty: float | None = Field(None, gt=0)
    profile: str | None = None
    cause: Literal["exchange-timeout", "rejected-exit", "stale-local-state"] = "exchange-timeout"


class PhantomOptions(FaultOptions):
    profile: str | None = None
    symbol: str | None = None


class StaleOrdersOptions(FaultOptions):
    profile: list[str] = Field(default_factory=list)
    count: int = Field(5, ge=1, le=100_000)
    age_seconds: float = Field(900.0, gt=0)
    missing_at_broker: int = Field(0, ge=0)
    older_than_24h: int = Field(0, ge=0)
    status: str = "pending_new"

    _split_profiles = field_validator("profile", mode="before")(_comma_list)

    @field_validator("status")
    @classmethod
    def _working(cls, value: str) -> str:
        if value not in WORKING_STATUSES:
            raise ValueError(f"must be a working status ({', '.join(WORKING_STATUSES)})")
        return value

    @model_validator(mode="after")
    def _within_count(self) -> StaleOrdersOptions:
        if self.missing_at_broker > self.count or self.older_than_24h > self.count:
            raise ValueError("missing_at_broker and older_than_24h cannot exceed count")
        return self


class AuthFailuresOptions(FaultOptions):
    share: float = Field(0.6, gt=0, le=1)
    channel: Literal["api", "websocket", "both"] = "both"
    reason: Literal["expired", "wrong-audience", "bad-signature", "missing"] = "expired"
    scope: Literal["clients", "all"] = "clients"


class NoOptions(FaultOptions):
    pass


class BrokerOutageOptions(FaultOptions):
    mode: Literal["5xx", "timeout", "429", "connection", "unauthorized"] = "5xx"
    accounts: list[str] | None = None
    share: float = Field(1.0, gt=0, le=1)
    delay_seconds: float = Field(5.0, gt=0, le=60)

    _split_accounts = field_validator("accounts", mode="before")(_comma_list)


class SupabaseOutageOptions(FaultOptions):
    mode: Literal["down", "issuance"] = "down"


class FillRaceOptions(FaultOptions):
    account: str | None = None
    symbol: str | None = None
    qty: float = Field(10.0, gt=0)
    seconds: float = Field(3.0, gt=0, le=600)
    profile: str | None = None


class InsufficientFundsOptions(FaultOptions):
    share: float = Field(1.0, gt=0, le=1)


class BotDegradedOptions(FaultOptions):
    field: list[str] = Field(default_factory=lambda: ["order_sync"])

    _split_fields = field_validator("field", mode="before")(_comma_list)


OPTION_MODELS: dict[str, type[FaultOptions]] = {
    "ghost": GhostOptions,
    "phantom": PhantomOptions,
    "stale-orders": StaleOrdersOptions,
    "auth-failures": AuthFailuresOptions,
    "auth-bypass": NoOptions,
    "broker-outage": BrokerOutageOptions,
    "supabase-outage": SupabaseOutageOptions,
    "fill-race": FillRaceOptions,
    "insufficient-funds": InsufficientFundsOptions,
    "bot-degraded": BotDegradedOptions,
    "reset": NoOptions,
}
KINDS = tuple(OPTION_MODELS)


def _describe(kind: str, exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(part).replace("_", "-") for part in err["loc"] if not isinstance(part, int))
    if err["type"] == "extra_forbidden":
        return f"{kind}: unknown option --{where}"
    message = str(err["msg"]).removeprefix("Value error, ")
    return f"{kind}: --{where}: {message}" if where else f"{kind}: {message}"


def parse_options(kind: str, raw: Mapping[str, Any] | None) -> FaultOptions:
    """Validate the options of fault `kind`; raise FaultError naming the kind or the option."""
    model = OPTION_MODELS.get(kind)
    if model is None:
        raise FaultError(f"unknown fault kind {kind!r} (known: {', '.join(KINDS)})")
    if raw is not None and not isinstance(raw, Mapping):
        raise FaultError(f"{kind}: options must be a JSON object")
    options = {str(key).replace("-", "_"): value for key, value in (raw or {}).items()}
    try:
        return model.model_validate(options)
    except ValidationError as exc:
        raise FaultError(_describe(kind, exc)) from None
