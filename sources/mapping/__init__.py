"""The declarative mapping of the bot's database (``bot_db.mapping``): where the runbook's profiles,
accounts, orders and positions live in the bot's own tables and what their words mean.

`default_mapping()` is the schema of `sources/botdb.py`; a user's mapping is inline YAML under
``bot_db.mapping`` or a file it names. docs/bot-database.md is the reference.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import yaml

from sources.mapping.entries import ColumnEntries, ControlApiEntries, LockEntries
from sources.mapping.model import (
    BotMapping,
    OrdersMapping,
    PositionsMapping,
    Query,
    Ref,
    StaleRule,
    TimestampFormat,
)
from sources.mapping.rules import ColumnUse, column_uses, words

__all__ = [
    "BotMapping",
    "ColumnEntries",
    "ColumnUse",
    "ControlApiEntries",
    "LockEntries",
    "OrdersMapping",
    "PositionsMapping",
    "Query",
    "Ref",
    "StaleRule",
    "TimestampFormat",
    "column_uses",
    "default_mapping",
    "default_mapping_data",
    "words",
]


@functools.cache
def default_mapping_data() -> dict[str, Any]:
    text = resources.files("sources.mapping").joinpath("default.yml").read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def default_mapping() -> BotMapping:
    """The mapping of the schema `sources/botdb.py` creates."""
    return BotMapping.model_validate(default_mapping_data())
