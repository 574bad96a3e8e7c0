"""The mapping's vocabulary: which tables and columns hold the runbook's profiles, broker accounts, orders
and positions, what their words mean, how they relate, and how an order goes stale.

Pydantic checks the shape of each part here; `sources/mapping/rules.py` checks how the parts fit together;
the gateway checks the tables and columns against the database when it first connects. Every problem is
one line naming the key (docs/bot-database.md is the reference).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from sources.instruments import BotSpelling, check_crypto_format
from sources.mapping.entries import Entries

TimestampFormat = Literal["aware", "naive_utc", "epoch_seconds", "epoch_millis"]
Scalar = bool | int | float | str
Words = tuple[str, ...]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def key_error(key: str, message: str) -> PydanticCustomError:
    """A validation error about the sub-key `key` (dotted) of the model being validated."""
    return PydanticCustomError("mapping_key", "{key}: {message}", {"key": key, "message": message})


class Hop(Model):
    """One join on the way to a value: ``JOIN table ON table.key = <previous>.from``."""

    table: str
    key: str
    from_: str = Field(alias="from")


class Ref(Model):
    """Where a row's profile (or account) id is: a column of the row, a column reached through joins, or a
    constant (a bot with one trading unit). A bare string is a column of the row."""

    column: str | None = None
    through: tuple[Hop, ...] = ()
    value: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _column_shorthand(cls, data: Any) -> Any:
        return {"column": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _one_source(self) -> Ref:
        if (self.column is None) == (self.value is None):
            raise key_error("column", "give exactly one of column (with optional through) or value")
        if self.value is not None and self.through:
            raise key_error("through", "a constant value needs no joins")
        return self


class Query(Model):
    """Raw SQL the mapping cannot express, used like a table (read-only). Named parameters (``:name``) come
    from `params`, or ``:now`` (the current UTC time)."""

    sql: str = Field(min_length=1)
    columns: tuple[str, ...] = Field(min_length=1)
    params: dict[str, Scalar] = Field(default_factory=dict)


class AccountsMapping(Model):
    table: str | None = None
    id: str = "id"
    key_id: str | None = Field(None, description="column holding the account's broker API key id")
    key_ids: dict[str, str] = Field(default_factory=dict, description="account id -> broker API key id")
    timestamps: TimestampFormat | None = None


class StaticProfile(Model):
    id: str = Field(min_length=1)
    account: str = Field(min_length=1)


class ProfilesMapping(Model):
    table: str | None = None
    id: str = "id"
    name: str | None = None
    account: Ref | None = None
    static: tuple[StaticProfile, ...] = ()
    entries: Entries
    timestamps: TimestampFormat | None = None


class OrderStatuses(Model):
    working: Words = Field(min_length=1)
    terminal: Words = ()
    quarantined: Words = Field(min_length=1)
    rejected: Words = Field((), description="the terminal words that mean the order was rejected")
    filled: Words = Field((), description="the terminal words that mean the order was filled")
    case_insensitive: bool = False


class StaleRule(Model):
    """Which working orders this rule decides, and when they go stale (or never). Rules are tried in order;
    the first that matches an order decides."""

    status: Words = ()
    class_: Literal["working"] | None = Field(None, alias="class")
    order_type: Words = ()
    time_in_force: Words = ()
    clock: str | None = None
    after_seconds: float | None = Field(None, gt=0)
    never: bool = False

    @model_validator(mode="after")
    def _decides(self) -> StaleRule:
        if bool(self.status) == (self.class_ is not None):
            raise key_error("status", "give exactly one of status (a list of words) or class: working")
        if self.never and (self.clock is not None or self.after_seconds is not None):
            raise key_error("never", "a rule that is never stale takes no clock or after_seconds")
        if not self.never and self.clock is None:
            raise key_error("clock", "required: the column an order's age is measured from (or never: true)")
        return self

    @property
    def conditional(self) -> bool:
        return bool(self.order_type or self.time_in_force)


class Quarantine(Model):
    write: str = Field(description="the status word written to quarantine an order")
    touch: str | None = Field(None, description="a timestamp column set to now by the write")


class OrdersMapping(Model):
    table: str
    id: str = "id"
    profile: Ref
    account: Ref | None = Field(None, description="default: the profile's account")
    symbol: str = "symbol"
    side: str | None = None
    sides: dict[Literal["buy", "sell"], Words] = Field(default_factory=dict, description="default: buy, sell")
    qty: str | None = None
    status: str = "status"
    statuses: OrderStatuses
    order_type: str | None = None
    time_in_force: str | None = None
    created_at: str
    updated_at: str | None = None
    client_order_id: str | None = None
    broker_order_id: str | None = None
    quarantine: Quarantine
    stale: tuple[StaleRule, ...] = Field(min_length=1)
    timestamps: TimestampFormat | None = None


class PositionSide(Model):
    column: str
    long: Words = Field(min_length=1)
    short: Words = Field(min_length=1)


class Quantity(Model):
    """A signed column; or an unsigned one with a side column (`side`) or a boolean short flag."""

    column: str
    side: PositionSide | None = None
    short_flag: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _column_shorthand(cls, data: Any) -> Any:
        return {"column": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _one_sign(self) -> Quantity:
        if self.side is not None and self.short_flag is not None:
            raise key_error("side", "give side or short_flag, not both")
        return self


class PositionStatus(Model):
    column: str
    open: Words = Field(min_length=1)
    closed: Words = ()
    case_insensitive: bool = False


class OpenRule(Model):
    """What makes a position row open: a status word, a boolean column, or no close time yet."""

    status: PositionStatus | None = None
    flag: str | None = None
    closed_at_null: bool = False

    @model_validator(mode="after")
    def _one_rule(self) -> OpenRule:
        if sum((self.status is not None, self.flag is not None, self.closed_at_null)) != 1:
            raise key_error("status", "give exactly one of status, flag or closed_at_null: true")
        return self


class PositionsMapping(Model):
    table: str
    id: str = "id"
    account: Ref | None = Field(None, description="default: the profile's account")
    profile: Ref | None = None
    symbol: str = "symbol"
    quantity: Quantity
    open: OpenRule
    opened_at: str | None = None
    closed_at: str | None = None
    timestamps: TimestampFormat | None = None


class SymbolsMapping(Model):
    crypto_format: str | None = Field(
        None, description="the bot's own spelling of a crypto pair, e.g. '{base}-{quote}' for BTC-USD (default: "
        "one of Alpaca's, BTC/USD or BTCUSD, which need no setting)"
    )

    @field_validator("crypto_format")
    @classmethod
    def _format(cls, value: str | None) -> str | None:
        return check_crypto_format(value) if value is not None else None

    def spelling(self) -> BotSpelling:
        return BotSpelling(self.crypto_format)


class BotMapping(Model):
    timestamps: TimestampFormat = "aware"
    symbols: SymbolsMapping = SymbolsMapping()
    queries: dict[str, Query] = Field(default_factory=dict)
    accounts: AccountsMapping
    profiles: ProfilesMapping
    orders: OrdersMapping
    positions: PositionsMapping

    @model_validator(mode="after")
    def _parts_fit(self) -> BotMapping:
        from sources.mapping.rules import first_problem

        problem = first_problem(self)
        if problem is not None:
            raise key_error(*problem)
        return self

    def query(self, name: str | None) -> Query | None:
        """The raw-SQL query called `name`, or None when `name` is a table of the database."""
        return self.queries.get(name) if name else None

    def timestamps_of(self, part: Literal["accounts", "profiles", "orders", "positions"]) -> TimestampFormat:
        own: TimestampFormat | None = getattr(self, part).timestamps
        return own or self.timestamps
