"""The fault kinds and their options, validated the same way for the CLI and the control API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sources.botdb import WORKING_STATUSES
from sources.instruments import instrument


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
    """The broker holds a position the bot records as closed."""

    account: str | None = Field(None, description="account (default: the profile's)")
    symbol: str | None = Field(None, description="symbol (default: the profile's open position)")
    qty: float | None = Field(None, gt=0, description="book a NEW broker position of this size (default: orphan the "
                              "profile's open position)")
    profile: str | None = Field(None, description="profile (default: p-1, or the account's first)")
    cause: Literal["exchange-timeout", "rejected-exit", "stale-local-state"] = Field(
        "exchange-timeout", description="the exit-order evidence left behind")


class PhantomOptions(FaultOptions):
    """The bot holds a position open that was closed by hand at the broker."""

    profile: str | None = Field(None, description="profile (default p-2)")
    symbol: str | None = Field(None, description="symbol (default: the profile's open position)")


class StaleOrdersOptions(FaultOptions):
    """Working orders whose updates never arrive."""

    profile: list[str] = Field(default_factory=list, description="profiles, repeatable or comma list (default p-1)")
    count: int = Field(5, ge=1, le=100_000, description="how many orders")
    age_seconds: float = Field(900.0, gt=0, description="age of their last update")
    missing_at_broker: int = Field(0, ge=0, description="how many the broker does not know (the first N)")
    older_than_24h: int = Field(0, ge=0, description="how many are 25 h old instead (the first N)")
    status: str = Field("pending_new", description="their working status")

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
    """Clients present bad tokens, or (scope all) the bot verifies with the wrong key."""

    share: float = Field(0.6, gt=0, le=1, description="share of client requests with a bad token")
    channel: Literal["api", "websocket", "both"] = Field("both", description="which client traffic")
    reason: Literal["expired", "wrong-audience", "bad-signature", "missing"] = Field(
        "expired", description="what is wrong with the bad tokens")
    scope: Literal["clients", "all"] = Field("clients", description="all = every token rejected until restart")
    clients: int | None = Field(None, ge=1, description="only the first N clients send bad tokens (default all)")


class AuthBypassOptions(FaultOptions):
    """The bot's /api/trade stops checking auth (no options)."""


class ResetOptions(FaultOptions):
    """Clear every fault, reseed the bot DB and rebuild the broker (no options)."""


class BrokerOutageOptions(FaultOptions):
    """The broker answers badly or not at all."""

    mode: Literal["5xx", "timeout", "429", "connection", "unauthorized", "malformed"] = Field(
        "5xx", description="how it fails"
    )
    accounts: list[str] | None = Field(None, description="only these accounts, comma list (default all)")
    share: float = Field(1.0, gt=0, le=1, description="share of requests that fail (flaky storms)")
    delay_seconds: float = Field(5.0, gt=0, le=60, description="how long timeout mode stalls")

    _split_accounts = field_validator("accounts", mode="before")(_comma_list)


class SupabaseOutageOptions(FaultOptions):
    """Supabase auth is down, or up but not issuing tokens."""

    mode: Literal["down", "issuance"] = Field("down", description="down = health and token 503; issuance = token 500")


class FillRaceOptions(FaultOptions):
    """The broker shows a fill before the bot records it."""

    account: str | None = Field(None, description="account (default: the profile's)")
    symbol: str | None = Field(None, description="symbol (default SPY)")
    qty: float = Field(10.0, gt=0, description="quantity bought")
    seconds: float = Field(3.0, gt=0, le=600, description="delay before the bot records the fill")
    profile: str | None = Field(None, description="profile (default p-1, or the account's first)")
    filled_share: float = Field(1.0, gt=0, le=1, description="below 1: a partial fill (the order stays "
                                "partially_filled at the broker, and in the bot once it records the fill)")


def _crypto_pair(value: str) -> str:
    if not instrument(value).crypto:
        raise ValueError("must be a crypto pair (LINK/USD or LINKUSD)")
    return value


class CryptoGhostOptions(FaultOptions):
    """A real crypto ghost: the broker holds `qty` of a pair the bot records as closed."""

    profile: str | None = Field(None, description="profile (default: the seed's first crypto profile)")
    symbol: str = Field("LINK/USD", description="the pair, as the bot spells it (LINK/USD or LINKUSD)")
    qty: float = Field(4.0, gt=0, description="what the broker holds")
    cause: Literal["exchange-timeout", "rejected-exit", "stale-local-state"] = Field(
        "exchange-timeout", description="the exit-order evidence left behind")

    _check_symbol = field_validator("symbol")(_crypto_pair)


class CryptoFillRaceOptions(FaultOptions):
    """The broker shows a crypto buy (its fee paid in the asset) before the bot records it."""

    profile: str | None = Field(None, description="profile (default: the seed's first crypto profile)")
    symbol: str = Field("BTC/USD", description="the pair, as the bot spells it")
    qty: float = Field(0.01, gt=0, description="quantity bought (the broker credits it less the fee)")
    seconds: float = Field(3.0, gt=0, le=600, description="delay before the bot records the fill")

    _check_symbol = field_validator("symbol")(_crypto_pair)


class InsufficientFundsOptions(FaultOptions):
    """The broker refuses new orders with 403 40310000."""

    share: float = Field(1.0, gt=0, le=1, description="share of orders refused")


class BotDegradedOptions(FaultOptions):
    """/health/ready reports degraded fields (answering 503, or 200: ready but degraded)."""

    field: list[str] = Field(default_factory=lambda: ["order_sync"], description="degraded fields, comma list")
    ready_status: Literal[200, 503] = Field(503, description="what /health/ready answers meanwhile")

    @field_validator("ready_status", mode="before")
    @classmethod
    def _number(cls, value: Any) -> Any:
        return int(value) if isinstance(value, str) and value.isdigit() else value

    _split_fields = field_validator("field", mode="before")(_comma_list)


OPTION_MODELS: dict[str, type[FaultOptions]] = {
    "ghost": GhostOptions,
    "phantom": PhantomOptions,
    "stale-orders": StaleOrdersOptions,
    "auth-failures": AuthFailuresOptions,
    "auth-bypass": AuthBypassOptions,
    "broker-outage": BrokerOutageOptions,
    "supabase-outage": SupabaseOutageOptions,
    "fill-race": FillRaceOptions,
    "crypto-ghost": CryptoGhostOptions,
    "crypto-fill-race": CryptoFillRaceOptions,
    "insufficient-funds": InsufficientFundsOptions,
    "bot-degraded": BotDegradedOptions,
    "reset": ResetOptions,
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
