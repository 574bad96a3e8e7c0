"""The mapping compiled against the bot's database on first use: its schema and its entries switch.

Compiling reflects the tables and checks the columns, so it waits for the first read or write: a process
starts while the bot's database is down.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

import requests
from sqlalchemy import Connection, Engine

from sources.botdata.relations import Relations
from sources.botdata.schema import Schema
from sources.botdata.switches import ApiSwitch, ColumnSwitch, LockSwitch, Switch
from sources.hooks import HookSpec
from sources.mapping import BotMapping, ColumnEntries, LockEntries


class CompiledMapping:
    def __init__(
        self,
        engine: Engine,
        mapping: BotMapping,
        http: requests.Session | None,
        control: Mapping[str, HookSpec],
    ) -> None:
        self._engine, self._mapping = engine, mapping
        self._http, self._control = http, dict(control)  # the control API's calls, with their secrets
        self._compiled: tuple[Schema, Switch] | None = None
        self._lock = threading.Lock()

    def ready(self) -> tuple[Schema, Switch]:
        """The schema and the entries switch, compiled now when they were not yet."""
        if self._compiled is None:
            with self._engine.connect() as conn:
                self.schema(conn)
        assert self._compiled is not None
        return self._compiled

    def schema(self, conn: Connection) -> Schema:
        """The schema, compiled on `conn` when it was not yet."""
        with self._lock:
            if self._compiled is None:
                schema = Schema(self._mapping, Relations(self._mapping, conn))
                self._compiled = (schema, self._make_switch(schema))
            return self._compiled[0]

    def _make_switch(self, schema: Schema) -> Switch:
        entries, profiles = self._mapping.profiles.entries, self._mapping.profiles
        if isinstance(entries, ColumnEntries):
            assert profiles.table is not None
            return ColumnSwitch(schema.relations.table(profiles.table), profiles.id, entries)
        if isinstance(entries, LockEntries):
            return LockSwitch(schema.relations.table(entries.table), entries)
        return ApiSwitch(entries, self._http, self._control)
