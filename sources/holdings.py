"""What the bot records as held, and what the broker holds, per broker account and instrument.

The bot's net quantity of an instrument on an account is the sum of its open positions over the account's
profiles, whatever spelling each row uses (``BTC/USD`` and ``BTCUSD`` are one instrument). For crypto it also
carries the filled buy quantity of those positions since they opened: the fee a crypto buy pays in the asset
is charged on it (`sources.quantities`). That is a second statement, run only when the bot holds crypto.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable

from sqlalchemy import Connection, and_, func, select

from sources.botdb import POSITION_OPEN, orders, positions, profiles
from sources.broker import BrokerPosition
from sources.instruments import Instrument, instrument
from sources.quantities import BotHolding, BrokerHolding

Holdings = dict[str, dict[Instrument, BotHolding]]  # account id -> instrument -> what the bot records


def broker_holdings(held: Iterable[BrokerPosition]) -> dict[Instrument, BrokerHolding]:
    """What the broker holds on one account: its net quantity and current price per instrument."""
    holdings: dict[Instrument, BrokerHolding] = {}
    for position in held:
        before = holdings.get(position.instrument, BrokerHolding())
        holdings[position.instrument] = BrokerHolding(before.qty + position.qty, position.current_price or before.price)
    return holdings


def open_holdings(conn: Connection, account_ids: Collection[str] | None = None) -> Holdings:
    """The bot's open net quantity (and, for crypto, the filled buys behind it) per account and instrument."""
    query = (
        select(profiles.c.account_id, positions.c.symbol, func.sum(positions.c.qty))
        .select_from(positions.join(profiles, positions.c.profile_id == profiles.c.id))
        .where(positions.c.status == POSITION_OPEN)
        .group_by(profiles.c.account_id, positions.c.symbol)
    )
    if account_ids is not None:
        query = query.where(profiles.c.account_id.in_(list(account_ids)))
    quantities: dict[tuple[str, Instrument], float] = defaultdict(float)
    crypto_spellings: set[str] = set()
    for account_id, symbol, qty in conn.execute(query):
        held = instrument(symbol)
        quantities[(account_id, held)] += float(qty or 0.0)
        if held.crypto:
            crypto_spellings.add(symbol)
    bought = _bought_since_open(conn, crypto_spellings, account_ids) if crypto_spellings else {}
    holdings: Holdings = defaultdict(dict)
    for (account_id, held), qty in quantities.items():
        holdings[account_id][held] = BotHolding(qty, bought.get((account_id, held), 0.0))
    return dict(holdings)


def _bought_since_open(
    conn: Connection, symbols: Collection[str], account_ids: Collection[str] | None
) -> dict[tuple[str, Instrument], float]:
    """Filled buy quantity of each open crypto position since it opened, summed per account and instrument."""
    buys = and_(
        orders.c.profile_id == positions.c.profile_id,
        orders.c.symbol == positions.c.symbol,
        orders.c.side == "buy",
        orders.c.status == "filled",
        orders.c.created_at >= positions.c.opened_at,
    )
    query = (
        select(profiles.c.account_id, positions.c.symbol, func.sum(orders.c.qty))
        .select_from(positions.join(profiles, positions.c.profile_id == profiles.c.id).join(orders, buys))
        .where(positions.c.status == POSITION_OPEN, positions.c.symbol.in_(sorted(symbols)))
        .group_by(profiles.c.account_id, positions.c.symbol)
    )
    if account_ids is not None:
        query = query.where(profiles.c.account_id.in_(list(account_ids)))
    bought: dict[tuple[str, Instrument], float] = defaultdict(float)
    for account_id, symbol, qty in conn.execute(query):
        bought[(account_id, instrument(symbol))] += float(qty or 0.0)
    return bought
