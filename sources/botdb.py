"""The schema of the simulator's bot: profiles, broker accounts, orders and positions.

The simulator (which plays the bot) and the tests create these tables (SQLite or PostgreSQL, one code
path); the default mapping (`sources/mapping/default.yml`) describes them. Everything else reads and
writes the bot's data only through the gateway (`sources/botdata`), which follows ``bot_db.mapping``:
a real bot keeps its own tables. Timestamps are stored in UTC and always come back timezone-aware.
"""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
)

from sources.botdata.timestamps import UTCDateTime
from sources.broker import TERMINAL_ORDER_STATUSES, WORKING_ORDER_STATUSES

PROFILE_ACTIVE = "active"
PROFILE_INACTIVE = "inactive"
PROFILE_STATUSES = (PROFILE_ACTIVE, PROFILE_INACTIVE)

# The simulator's bot stores Alpaca's order statuses, grouped the way the runbook needs them.
TERMINAL_STATUSES = TERMINAL_ORDER_STATUSES
WORKING_STATUSES = WORKING_ORDER_STATUSES
DAY_BOUNDARY_STATUSES = ("done_for_day", "calculated")
QUARANTINED_STATUS = "unknown"
ORDER_STATUSES = TERMINAL_STATUSES + WORKING_STATUSES + DAY_BOUNDARY_STATUSES + (QUARANTINED_STATUS,)

POSITION_OPEN = "open"
POSITION_CLOSED = "closed"


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


metadata = MetaData()

broker_accounts = Table(
    "broker_accounts",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("api_key_id", String(128), nullable=False),
    Column("label", String(128), nullable=False, default=""),
)

profiles = Table(
    "profiles",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("status", String(16), nullable=False, default=PROFILE_ACTIVE),
    Column("account_id", String(64), ForeignKey("broker_accounts.id"), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    CheckConstraint(_in("status", PROFILE_STATUSES), name="profiles_status_valid"),
)

orders = Table(
    "orders",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("profile_id", String(64), ForeignKey("profiles.id"), nullable=False),
    Column("symbol", String(32), nullable=False),
    Column("side", String(8), nullable=False),
    Column("qty", Float, nullable=False),
    Column("status", String(32), nullable=False),
    Column("client_order_id", String(128), nullable=False, unique=True),
    Column("broker_order_id", String(128), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    CheckConstraint("side IN ('buy', 'sell')", name="orders_side_valid"),
    CheckConstraint(_in("status", ORDER_STATUSES), name="orders_status_valid"),
    Index("orders_status_updated_at", "status", "updated_at"),
    Index("orders_profile_symbol", "profile_id", "symbol"),
)

positions = Table(
    "positions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("profile_id", String(64), ForeignKey("profiles.id"), nullable=False),
    Column("symbol", String(32), nullable=False),
    Column("qty", Float, nullable=False, doc="signed: positive long, negative short"),
    Column("avg_entry_price", Float, nullable=False, default=0.0),
    Column("status", String(16), nullable=False),
    Column("opened_at", UTCDateTime(), nullable=False),
    Column("closed_at", UTCDateTime(), nullable=True),
    Column("updated_at", UTCDateTime(), nullable=False),
    CheckConstraint("status IN ('open', 'closed')", name="positions_status_valid"),
    Index("positions_profile_symbol_status", "profile_id", "symbol", "status"),
)


def create_schema(engine: Engine) -> None:
    """Create the bot's tables where they do not exist yet."""
    metadata.create_all(engine)


def drop_schema(engine: Engine) -> None:
    metadata.drop_all(engine)
