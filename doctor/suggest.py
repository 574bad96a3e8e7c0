"""``python -m doctor --suggest``: a starting mapping guessed from the bot's database (tables by their names
and columns, references by ``<table>_id`` columns, directly or through one other table, words classified
by `doctor.suggest_words`, clocks by their names and types). The YAML it prints is a mapping file
(``bot_db.mapping: bot-mapping.yml``); its header names what it could not decide."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

import yaml
from sqlalchemy.exc import SQLAlchemyError

from common.config import ConfigError, load_config, resolve_sqlite_url
from common.db import make_engine
from doctor.suggest_parts import Guess, orders_part, positions_part, profiles_part
from sources.botdata.introspect import Kind, TableInfo, describe
from sources.botdata.relations import reason_of

ENUMERATED = re.compile(r"status|state|side|type|enabled|active|^is_|mode|direction|^id$", re.IGNORECASE)
NAMES = {
    "accounts": ("broker_accounts", "accounts", "alpaca_accounts", "exchange_accounts"),
    "profiles": ("profiles", "trading_profiles", "strategies", "bots"),
    "orders": ("orders", "bot_orders", "trade_orders"),
    "positions": ("positions", "bot_positions", "trades"),
}
HINTS = {"accounts": ("account",), "profiles": ("profile", "strateg"), "orders": ("order",),
         "positions": ("position", "trade")}
KEY_ID = ("api_key_id", "alpaca_key_id", "key_id", "alpaca_api_key_id", "api_key")


def suggest_for(config_path: str, env: Mapping[str, str], out: TextIO) -> int:
    url = _database_url(config_path, env)
    if url is None:
        print(f"doctor: BLOCKED {config_path}: bot_db.url: no database to look at", file=out)
        return 1
    engine = make_engine(url)
    try:
        tables = describe(engine, _enumerated)
    except SQLAlchemyError as exc:
        print(f"doctor: BLOCKED bot_db.url: cannot read the bot's database: {reason_of(exc)}", file=out)
        return 1
    finally:
        engine.dispose()
    print(suggestion(tables, engine.dialect.name), file=out, end="")
    return 0


def _database_url(config_path: str, env: Mapping[str, str]) -> str | None:
    """bot_db.url of the configuration; from the raw YAML when the rest does not validate yet."""
    try:
        return load_config(config_path, env).bot_db.url
    except ConfigError:
        pass
    if env.get("BOT_DB_URL"):
        return env["BOT_DB_URL"]
    try:
        with open(config_path, encoding="utf-8") as handle:
            raw = yaml.safe_load(handle)
        url = raw["bot_db"]["url"]
    except (OSError, yaml.YAMLError, TypeError, KeyError):
        return None
    return resolve_sqlite_url(str(url), Path(config_path).resolve().parent)


def _enumerated(table: str, column: str, kind: Kind) -> bool:
    if column == "id":
        return "account" in table and kind in ("text", "integer")
    return kind in ("text", "boolean", "other") and ENUMERATED.search(column) is not None


def suggestion(tables: list[TableInfo], dialect: str) -> str:
    """The mapping as YAML text, with a header of what is left to decide."""
    mapping, notes = suggest_mapping(tables, dialect)
    header = ["# A starting mapping guessed by `python -m doctor --suggest` from the bot's database.",
              "# Save it (e.g. bot-mapping.yml), set bot_db.mapping: bot-mapping.yml, then run make doctor.",
              "# Reference: docs/bot-database.md. Check every guess; left to decide:"]
    header += [f"#  - {note}" for note in notes] or ["#  - nothing: still read every key"]
    return "\n".join(header) + "\n" + yaml.safe_dump(mapping, sort_keys=False, default_flow_style=None, width=110)


def suggest_mapping(tables: list[TableInfo], dialect: str) -> tuple[dict[str, Any], list[str]]:
    guess = Guess(tables, dialect)
    found = {part: _find_table(tables, part, guess.taken) for part in ("accounts", "profiles", "orders", "positions")}
    accounts = found["accounts"]
    guess.accounts, guess.profiles = accounts, found["profiles"]
    mapping: dict[str, Any] = {"timestamps": "aware", "accounts": _accounts(guess, accounts)}
    mapping["profiles"] = profiles_part(guess)
    if found["orders"] is None:
        guess.notes.append("no orders table found: name it under orders.table")
    mapping["orders"] = orders_part(guess, found["orders"])
    mapping["positions"] = positions_part(guess, found["positions"])
    mapping["timestamps"] = guess.timestamps or "aware"
    return mapping, guess.notes


def _find_table(tables: list[TableInfo], part: str, taken: set[str]) -> TableInfo | None:
    candidates = [t for t in tables if t.name not in taken and (t.primary_key or "id" in t.names)]
    by_name = {t.name: t for t in candidates}
    found = next((by_name[name] for name in NAMES[part] if name in by_name), None)
    if found is None:
        found = next((t for t in candidates if any(hint in t.name.lower() for hint in HINTS[part])), None)
    if found is not None:
        taken.add(found.name)
    return found


def _accounts(guess: Guess, table: TableInfo | None) -> dict[str, Any]:
    if table is None:
        guess.notes.append("no accounts table: accounts.key_ids maps each account id to its broker key id")
        return {"key_ids": {"main": "SET-ME-KEY-ID"}}
    part: dict[str, Any] = {"table": table.name, "id": guess.id_of(table)}
    key = next((name for name in KEY_ID if name in table.names), None)
    if key is None:
        key = next((name for name in table.names if "key_id" in name.lower()), None)
    if key is not None:
        part["key_id"] = key
        return part
    column = table.column(part["id"])
    ids = [str(value) for value in column.values] if column else []
    guess.notes.append(f"{table.name} holds no broker key id: set accounts.key_ids (account id -> key id)")
    part["key_ids"] = {account: "SET-ME-KEY-ID" for account in ids[:20]} or {"SET-ME-ACCOUNT": "SET-ME-KEY-ID"}
    return part
