"""Profiles and accounts: the statements that list them and find one."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, null, select

from sources.botdata.orders import equals
from sources.botdata.schema import Schema


def accounts_statement(schema: Schema, account_id: str | None = None) -> Any:
    """(account id, key id or NULL) of every account in the accounts' table, or of one."""
    mapping = schema.mapping.accounts
    assert mapping.table is not None
    table = schema.relations.relation(mapping.table)
    key = table.c[mapping.key_id] if mapping.key_id else null()
    query = select(table.c[mapping.id], key).order_by(table.c[mapping.id])
    return query if account_id is None else query.where(equals(table.c[mapping.id], account_id))


def pairs_statement(schema: Schema) -> Any:
    """Every (profile, account) pair."""
    pairs = schema.profile_accounts()
    return select(pairs.c.profile, pairs.c.account).order_by(pairs.c.profile, pairs.c.account)


def profile_ids(conn: Connection, schema: Schema) -> list[str]:
    profiles, profile_id = schema.profile_ids()
    return [str(found) for found in conn.execute(select(profile_id).select_from(profiles)).scalars()]


def profile_exists(conn: Connection, schema: Schema, profile_id: str) -> bool:
    profiles = schema.mapping.profiles
    if not profiles.table:
        return any(p.id == profile_id for p in profiles.static)
    table = schema.relations.relation(profiles.table)
    found = conn.execute(select(table.c[profiles.id]).where(equals(table.c[profiles.id], profile_id)))
    return found.first() is not None
