"""Every write to the bot's data, on one connection whose transaction the caller owns (committed by the
gateway, rolled back by a check). Each write is compare-and-set and reads back what it changed: a
write that changed nothing is never taken for a success by the caller."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from sources.botdata.orders import equals
from sources.botdata.rows import EntriesChange, QuarantineResult
from sources.botdata.schema import Schema
from sources.botdata.switches import Switch


class Writes:
    def __init__(self, schema: Schema, switch: Switch, conn: Connection | None) -> None:
        self._schema, self._switch, self._conn = schema, switch, conn

    def stop_entries(self, profile: str, now: datetime) -> EntriesChange:
        changed = self._switch.stop(self._conn, profile, now)
        return EntriesChange(changed, self._switch.read(self._conn, profile, now))

    def resume_entries(self, profile: str, now: datetime) -> EntriesChange:
        changed = self._switch.resume(self._conn, profile, now)
        return EntriesChange(changed, self._switch.read(self._conn, profile, now))

    def quarantine_order(self, order_id: str, seen_status: str, now: datetime) -> QuarantineResult:
        """Set the quarantine word over the status the caller saw; an order that moved on is left alone."""
        assert self._conn is not None
        mapping = self._schema.mapping.orders
        table = self._schema.relations.table(mapping.table)
        status, key = table.c[mapping.status], equals(table.c[mapping.id], order_id)
        values: dict[Any, Any] = {status: mapping.quarantine.write}
        if mapping.quarantine.touch:
            values[table.c[mapping.quarantine.touch]] = now
        if self._conn.execute(update(table).where(key, status == seen_status).values(values)).rowcount == 1:
            return "quarantined"
        current = self._conn.execute(select(status).where(key)).scalar()
        fold = str.lower if mapping.statuses.case_insensitive else str
        quarantined = {fold(word) for word in mapping.statuses.quarantined}
        return "already" if current is not None and fold(str(current)) in quarantined else "moved_on"
