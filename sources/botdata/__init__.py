"""The one gateway to the bot's data (`BotData`), driven by the declarative mapping (`sources.mapping`)."""

from sources.botdata.gateway import BotData, open_bot_data, utc_now
from sources.botdata.rows import (
    Account,
    BotOrder,
    BotPosition,
    Entries,
    EntriesChange,
    Profile,
    ProfileAccount,
    ProfileBacklog,
    QuarantineResult,
    UnmappedValues,
)
from sources.botdata.switches import resolve_entries_hooks
from sources.botdata.timestamps import UTCDateTime

__all__ = [
    "Account",
    "BotData",
    "BotOrder",
    "BotPosition",
    "Entries",
    "EntriesChange",
    "Profile",
    "ProfileAccount",
    "ProfileBacklog",
    "QuarantineResult",
    "UTCDateTime",
    "UnmappedValues",
    "open_bot_data",
    "resolve_entries_hooks",
    "utc_now",
]
