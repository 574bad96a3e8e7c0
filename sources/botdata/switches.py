"""The three ways of stopping a profile's new entries (``profiles.entries.mechanism``), each reading back
what it changed: a column of the profile's row (compare-and-set), a row INSERTed into a lock table, or
the bot's own control API. Database switches run inside the caller's transaction, so a check can roll
a write back."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol
from urllib.parse import quote

import requests
from sqlalchemy import Connection, Table, and_, func, select, update

from common.config import ConfigError, read_secret
from sources.botdata.orders import equals
from sources.botdata.rows import Entries
from sources.botdata.schema import holds_booleans, truthy
from sources.mapping import ColumnEntries, ControlApiEntries, ControlAuth, LockEntries


class ControlApiError(Exception):
    """The bot's control API could not be used (no answer, an error status, an unusable body)."""


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
    in_database = False

    def __init__(self, spec: ControlApiEntries, session: requests.Session | None, headers: Mapping[str, str]) -> None:
        self._spec, self._session, self._headers = spec, session, dict(headers)

    def read(self, conn: Connection | None, profile: str, now: datetime) -> Entries:
        try:
            answer = self._call("GET", self._spec.state.url, profile, None).json()
        except (ControlApiError, ValueError) as exc:
            return Entries("unknown", None, f"control API state unreadable: {exc}")
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
        self._call(self._spec.stop.method, self._spec.stop.url, profile, self._spec.stop.body)
        return True

    def resume(self, conn: Connection | None, profile: str, now: datetime) -> bool:
        if self.read(conn, profile, now).state == "enabled":
            return False
        self._call(self._spec.resume.method, self._spec.resume.url, profile, self._spec.resume.body)
        return True

    def _call(self, method: str, url: str, profile: str, body: dict[str, Any] | None) -> requests.Response:
        if self._session is None:
            raise ControlApiError("this process has no HTTP session for the bot's control API")
        target = url.replace("{profile}", quote(profile, safe=""))
        try:
            answer = self._session.request(method, target, json=body, headers=self._headers,
                                           timeout=self._spec.timeout_seconds)
        except requests.RequestException as exc:
            raise ControlApiError(f"{method} {target}: no answer ({type(exc).__name__})") from None
        if not 200 <= answer.status_code < 300:
            raise ControlApiError(f"{method} {target}: HTTP {answer.status_code}")
        return answer


def control_headers(auth: ControlAuth | None, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The Authorization header for the control API, from the variables the mapping names; ConfigError
    naming the first that is not set."""
    if auth is None:
        return {}
    if auth.bearer_env:
        return {"Authorization": f"Bearer {_secret(auth.bearer_env, env)}"}
    assert auth.basic_user_env and auth.basic_password_env
    pair = f"{_secret(auth.basic_user_env, env)}:{_secret(auth.basic_password_env, env)}"
    return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}


def _secret(name: str, env: Mapping[str, str] | None) -> str:
    value = read_secret(name, env)
    if value is None:
        raise ConfigError(f"${name} is not set")
    return value
