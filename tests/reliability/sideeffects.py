"""Counting what the responder really did, outside its own ledger.

- The bot DB gets an audit table filled by a trigger on every change of a profile's or an order's status
  (SQLite and PostgreSQL), so a deactivation or a quarantine that ran twice shows up as two rows even
  where the compare-and-set made the second one a no-op in the ledger.
- `Recorder` is a real HTTP server standing in for Slack's webhook and the bot's admin hooks; it keeps
  every request it got (optionally answering slowly, to widen the window a SIGKILL can hit).
- `digest` is the bot DB's whole state, to prove that input which must do nothing did nothing.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import Flask, request
from sqlalchemy import Engine, func, select, text

from responder.ledger.schema import alerts, runs, steps
from sources.botdb import broker_accounts, orders, positions, profiles
from tests.support.botstate import add_account, add_order, add_position, add_profile

AUDIT = "reliability_status_changes"  # the table the triggers below fill

_CREATE_AUDIT = (
    "CREATE TABLE IF NOT EXISTS reliability_status_changes"
    " (tbl TEXT NOT NULL, row_id TEXT NOT NULL, old TEXT, new TEXT)"
)
_SQLITE_TRIGGERS = [
    _CREATE_AUDIT,
    """CREATE TRIGGER IF NOT EXISTS reliability_profiles AFTER UPDATE OF status ON profiles
        WHEN OLD.status IS NOT NEW.status
        BEGIN INSERT INTO reliability_status_changes VALUES ('profiles', OLD.id, OLD.status, NEW.status); END""",
    """CREATE TRIGGER IF NOT EXISTS reliability_orders AFTER UPDATE OF status ON orders
        WHEN OLD.status IS NOT NEW.status
        BEGIN INSERT INTO reliability_status_changes VALUES ('orders', OLD.id, OLD.status, NEW.status); END""",
]
_POSTGRES_TRIGGERS = [
    _CREATE_AUDIT,
    """CREATE OR REPLACE FUNCTION reliability_audit() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF OLD.status IS DISTINCT FROM NEW.status THEN
            INSERT INTO reliability_status_changes VALUES (TG_TABLE_NAME, OLD.id::text, OLD.status, NEW.status);
          END IF;
          RETURN NEW;
        END $$""",
    "CREATE OR REPLACE TRIGGER reliability_profiles AFTER UPDATE ON profiles "
    "FOR EACH ROW EXECUTE FUNCTION reliability_audit()",
    "CREATE OR REPLACE TRIGGER reliability_orders AFTER UPDATE ON orders "
    "FOR EACH ROW EXECUTE FUNCTION reliability_audit()",
]


def install_audit(engine: Engine) -> None:
    """Record every status change of a profile or an order in the audit table (bot schema must exist)."""
    statements = _POSTGRES_TRIGGERS if engine.dialect.name == "postgresql" else _SQLITE_TRIGGERS
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))


def status_changes(engine: Engine, table: str = "profiles") -> list[tuple[str, str, str]]:
    """(row id, old status, new status) of every change, in no particular order."""
    with engine.connect() as conn:
        query = text("SELECT row_id, old, new FROM reliability_status_changes WHERE tbl = :t")
        rows = conn.execute(query, {"t": table}).all()
    return [(str(r[0]), str(r[1]), str(r[2])) for r in rows]


def seed_bot(engine: Engine, profiles_per_account: int = 2, accounts: int = 1) -> list[str]:
    """Accounts acct-1.., profiles p-1.. (active), each with an open position and a fresh working order."""
    now = datetime.now(UTC)
    made = []
    for a in range(1, accounts + 1):
        add_account(engine, f"acct-{a}", f"key-acct-{a}")
        for p in range(profiles_per_account):
            profile = f"p-{(a - 1) * profiles_per_account + p + 1}"
            add_profile(engine, profile, f"acct-{a}", now)
            add_position(engine, profile, "AAPL", 1.0, "open", now)
            add_order(engine, profile, "new", now)
            made.append(profile)
    return made


def digest(engine: Engine) -> tuple[Any, ...]:
    """Everything in the bot DB that an action could change, plus the audit trail."""
    with engine.connect() as conn:
        return (
            tuple(conn.execute(select(broker_accounts).order_by(broker_accounts.c.id)).all()),
            tuple(conn.execute(select(profiles).order_by(profiles.c.id)).all()),
            tuple(conn.execute(select(orders).order_by(orders.c.id)).all()),
            tuple(conn.execute(select(positions).order_by(positions.c.id)).all()),
            tuple(conn.execute(text("SELECT * FROM reliability_status_changes ORDER BY 1, 2, 3, 4")).all()),
        )


def ledger_counts(engine: Engine) -> tuple[int, int, int]:
    """(alert occurrences, runs, steps) in the ledger."""
    with engine.connect() as conn:
        return tuple(  # type: ignore[return-value]
            int(conn.execute(select(func.count()).select_from(table)).scalar_one()) for table in (alerts, runs, steps)
        )


@dataclass
class Recorder:
    """Slack's webhook (``POST /hook``) and the bot's admin hooks (``POST /admin/<name>``), recorded."""

    delay_seconds: float = 0.0
    slack: list[str] = field(default_factory=list)
    hooks: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> Flask:
        app = Flask("reliability-recorder")

        @app.post("/hook")
        def slack_hook() -> tuple[str, int]:
            message = str((request.get_json(silent=True) or {}).get("text", ""))
            self._slow()
            with self.lock:
                self.slack.append(message)
            return "ok", 200

        @app.post("/admin/<name>")
        def admin_hook(name: str) -> tuple[dict[str, Any], int]:
            body = request.get_json(silent=True) or {}
            self._slow()
            with self.lock:
                self.hooks.append((name, body))
            return {"ok": True, "changed": 0}, 200

        return app

    def _slow(self) -> None:
        if self.delay_seconds:
            time.sleep(self.delay_seconds)

    def messages_by_profile(self) -> Counter[str]:
        """Slack messages per ``profile p-N`` named in the message's Impact line."""
        counted: Counter[str] = Counter()
        with self.lock:
            for message in self.slack:
                counted[_profile_in(message)] += 1
        return counted

    def hooks_by_profile(self, name: str) -> Counter[str]:
        with self.lock:
            return Counter(str(body.get("profile")) for hook, body in self.hooks if hook == name)


def _profile_in(message: str) -> str:
    for line in message.splitlines():
        if line.startswith("*Impact*:"):
            for part in line.split(":", 1)[1].split(","):
                words = part.split()
                if len(words) == 2 and words[0] == "profile":
                    return words[1]
    return ""
