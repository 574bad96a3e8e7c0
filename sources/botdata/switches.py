"""The three ways of stopping a profile's new entries (``profiles.entries.mechanism``), each reading back
what it changed: a column of the profile's row (compare-and-set), a row INSERTed into a lock table, or
the bot's own control API (calls run as hooks, `sources/hooks.py`). Database switches run inside the
caller's transaction, so a check can roll a write back."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol
from urllib.parse import quote

import requests
from sqlalchemy import Connection, Table, and_, func, select, update

from sources.botdata.orders import equals
from sources.botdata.rows import Entries
from sources.botdata.schema import holds_booleans, truthy
from sources.hooks import HookError, HookRefused, HookResult, HookSpec, resolve_hook, run_hook
from sources.mapping import ColumnEntries, ControlApiEntries, LockEntries


class Switch(Protocol):
    in_database: bool

    def read(self, conn: Connection | None, profile: str, now: datetime) -> Entries: ...

    def stop(self, conn: Connection | None, profile: str, now: datetime) -> bool:
        """Stop entries unless already stopped; True when this call changed something."""
        ...

    def resume(self, conn: Connection | None, profile: str, now: datetime) -> bool:
        """Resume entries this mechanism stopped; True when this call changed something."""
        ...


def shown(value: Any) -> str | None:
    """A raw value as evidence shows it (booleans as true/false)."""
    if value is None:
        return None
    return str(value).lower() if isinstance(value, bool) else str(value)


def state_of(value: Any, enabled: tuple[Any, ...], stopped: tuple[Any, ...]) -> Entries:
    if value in stopped:
        return Entries("stopped", shown(value))
    if value in enabled:
        return Entries("enabled", shown(value))
    return Entries("unknown", shown(value), f"{shown(value)!r} is neither an enabled nor a stopped value")


class ColumnSwitch:
    in_database = True

    def __init__(self, table: Table, id_column: str, spec: ColumnEntries) -> None:
        self._table, self._id, self._spec = table, table.c[id_column], spec
        self._column = table.c[spec.column]

    def read(self, conn: Connection | None, profile: str, now: datetime) -> Entries:
        assert conn is not None
        row = conn.execute(select(self._column).where(equals(self._id, profile))).first()
        if row is None:
            return Entries("unknown", None, "no such profile")
        return state_of(row[0], self._spec.enabled, self._spec.stopped)

    def stop(self, conn: Connection | None, profile: str, now: datetime) -> bool:
        return self._set(conn, profile, self._column.in_(self._spec.enabled), self._spec.stop, now)

    def resume(self, conn: Connection | None, profile: str, now: datetime) -> bool:
        return self._set(conn, profile, self._column == self._spec.stop, self._spec.resume, now)

    def _set(self, conn: Connection | None, profile: str, expected: Any, value: Any, now: datetime) -> bool:
        assert conn is not None
        values: dict[Any, Any] = {self._column: value}
        if self._spec.touch:
            values[self._table.c[self._spec.touch]] = now
        statement = update(self._table).where(equals(self._id, profile), expected).values(values)
        return conn.execute(statement).rowcount == 1


class LockSwitch:
    in_database = True

    def __init__(self, table: Table, spec: LockEntries) -> None:
        self._table, self._spec = table, spec

    def _holding(self, profile: str, now: datetime) -> list[Any]:
        """Conditions of a lock that stops the profile's entries at `now`."""
        c, spec = self._table.c, self._spec
        conditions: list[Any] = [c[column].in_(accepted) for column, accepted in spec.match.items()]
        if spec.active:
            conditions.append(truthy(c[spec.active]))
        if spec.ends_at:
            conditions.append(c[spec.ends_at] > now)
        if spec.profile_column:
            conditions.append(equals(c[spec.profile_column], profile))
        return conditions

    def read(self, conn: Connection | None, profile: str, now: datetime) -> Entries:
        assert conn is not None
        count = conn.execute(select(func.count()).select_from(self._table).where(*self._holding(profile, now)))
        locks = int(count.scalar_one())
        return Entries("stopped", f"{locks} active lock(s)") if locks else Entries("enabled", "no active lock")

    def stop(self, conn: Connection | None, profile: str, now: datetime) -> bool:
        assert conn is not None
        if self.read(conn, profile, now).state == "stopped":
            return False
        c, spec = self._table.c, self._spec
        values: dict[Any, Any] = {c[column]: value for column, value in spec.values.items()}
        if spec.profile_column:
            values[c[spec.profile_column]] = profile
        if spec.starts_at:
            values[c[spec.starts_at]] = now
        if spec.ends_at:
            values[c[spec.ends_at]] = now + timedelta(seconds=spec.duration_seconds)
        if spec.active:
            values[c[spec.active]] = _true_for(c[spec.active])
        conn.execute(self._table.insert().values(values))
        return True

    def resume(self, conn: Connection | None, profile: str, now: datetime) -> bool:
        """Lift the locks this mechanism wrote (those carrying `values`); other locks stay."""
        assert conn is not None
        c, spec = self._table.c, self._spec
        ours = [c[column] == value for column, value in spec.values.items()]
        if spec.active:
            lifted: dict[Any, Any] = {c[spec.active]: _false_for(c[spec.active])}
        else:
            assert spec.ends_at is not None  # checked by the mapping
            lifted = {c[spec.ends_at]: now}
        statement = update(self._table).where(and_(*self._holding(profile, now), *ours)).values(lifted)
        return conn.execute(statement).rowcount > 0


def _true_for(column: Any) -> Any:
    return True if holds_booleans(column) else 1


def _false_for(column: Any) -> Any:
    return False if holds_booleans(column) else 0


class ApiSwitch:
    """Entries stopped and resumed through the bot's control API (or commands), run as hooks
    (`sources/hooks.py`) with the profile in their context (and in ``{profile}`` of a URL)."""

    in_database = False

    def __init__(self, spec: ControlApiEntries, session: requests.Session | None,
                 hooks: Mapping[str, HookSpec]) -> None:
        self._spec, self._session, self._hooks = spec, session, dict(hooks)

    def read(self, conn: Connection | None, profile: str, now: datetime) -> Entries:
        try:
            result = self._run("state.call", profile)
            answer = result.response if result.kind == "http" else json.loads(result.output)
        except (HookError, ValueError) as exc:
            return Entries("unknown", None, f"entries state unreadable: {exc}")
        value: Any = answer
        for step in self._spec.state.field.split("."):
            value = value.get(step) if isinstance(value, dict) else None
        state = self._spec.state
        if value in state.stopped:
            return Entries("stopped", shown(value))
        if not state.running or value in state.running:
            return Entries("enabled", shown(value))
        return Entries("unknown", shown(value), f"{state.field} = {shown(value)!r} is neither stopped nor running")

    def stop(self, conn: Connection | None, profile: str, now: datetime) -> bool:
        if self.read(conn, profile, now).state == "stopped":
            return False
        self._run("stop", profile)
        return True

    def resume(self, conn: Connection | None, profile: str, now: datetime) -> bool:
        if self.read(conn, profile, now).state == "enabled":
            return False
        self._run("resume", profile)
        return True

    def _run(self, name: str, profile: str) -> HookResult:
        """Run one of the calls for `profile`; HookError when it did not succeed."""
        spec = self._hooks.get(name)
        if spec is None or self._session is None:
            raise HookRefused(f"{name}: the bot's control API is not set up in this process")
        url = spec.config.url
        if url is not None and "{profile}" in url:
            config = spec.config.model_copy(update={"url": url.replace("{profile}", quote(profile, safe=""))})
            spec = HookSpec(spec.name, config, spec.headers, spec.env)
        return run_hook(spec, {"profile": profile, "action": name}, self._session)


def resolve_entries_hooks(entries: ControlApiEntries, env: Mapping[str, str]) -> dict[str, HookSpec]:
    """The control API's calls with their secrets read from the environment; ConfigError naming the key
    (``bot_db.mapping.profiles.entries.<call>``) when a variable is not set or a program is missing."""
    return {
        name: resolve_hook(f"entries.{name}", call, env, f"bot_db.mapping.profiles.entries.{name}")
        for name, call in entries.calls().items()
    }
