"""Position parity for one broker account: the bot's open positions (summed per symbol over every profile
of the account) against the broker's. The runbook re-enables a profile only once parity is confirmed."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, func, select

from sources.botdb import POSITION_OPEN, positions, profiles
from sources.broker import BrokerClient

TOLERANCE = 1e-9


@dataclass(frozen=True)
class Parity:
    account: str
    bot: dict[str, float]
    broker: dict[str, float]
    mismatches: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def as_dict(self) -> dict[str, Any]:
        return {"account": self.account, "bot": self.bot, "broker": self.broker, "mismatches": self.mismatches}


def profile_account(engine: Engine, profile_id: str) -> tuple[str, str] | None:
    """(account id, status) of a profile, or None when it does not exist."""
    with engine.connect() as conn:
        row = conn.execute(select(profiles.c.account_id, profiles.c.status).where(profiles.c.id == profile_id)).first()
    return (row.account_id, row.status) if row else None


def bot_positions(engine: Engine, account_id: str) -> dict[str, float]:
    query = (
        select(positions.c.symbol, func.sum(positions.c.qty))
        .join(profiles, profiles.c.id == positions.c.profile_id)
        .where(profiles.c.account_id == account_id, positions.c.status == POSITION_OPEN)
        .group_by(positions.c.symbol)
    )
    with engine.connect() as conn:
        return {symbol: float(qty or 0.0) for symbol, qty in conn.execute(query)}


def account_parity(engine: Engine, broker: BrokerClient, account_id: str) -> Parity:
    """Compare per symbol; raises BrokerUnavailable when the broker cannot be read (never "flat")."""
    at_broker: dict[str, float] = defaultdict(float)
    for position in broker.list_positions():
        at_broker[position.symbol] += position.qty
    in_bot = bot_positions(engine, account_id)
    mismatches = [
        {"symbol": symbol, "bot_qty": in_bot.get(symbol, 0.0), "broker_qty": at_broker.get(symbol, 0.0)}
        for symbol in sorted(set(in_bot) | set(at_broker))
        if abs(in_bot.get(symbol, 0.0) - at_broker.get(symbol, 0.0)) > TOLERANCE
    ]
    return Parity(account_id, dict(in_bot), dict(at_broker), mismatches)
