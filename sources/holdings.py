"""What the bot records as held, and what the broker holds, per broker account and instrument.

The bot's net quantity of an instrument on an account is the sum of its open positions over the account's
profiles, whatever spelling each row uses (``BTC/USD`` and ``BTCUSD`` are one instrument), read through the
gateway to the bot's data. For crypto it also carries the filled buy quantity of those positions since they
opened: the fee a crypto buy pays in the asset is charged on it (`sources.quantities`). That is a second
statement, run only when the bot holds crypto.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable

from sources.botdata import BotData
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


def open_holdings(bot: BotData, account_ids: Collection[str] | None = None) -> Holdings:
    """The bot's open net quantity (and, for crypto, the filled buys behind it) per account and instrument."""
    only = next(iter(account_ids)) if account_ids is not None and len(account_ids) == 1 else None
    quantities: dict[tuple[str, Instrument], float] = defaultdict(float)
    crypto_spellings: set[str] = set()
    for account_id, symbols in bot.open_quantities(only).items():
        if account_ids is not None and account_id not in account_ids:
            continue
        for symbol, qty in symbols.items():
            held = instrument(symbol)
            quantities[(account_id, held)] += qty
            if held.crypto:
                crypto_spellings.add(symbol)
    bought: dict[tuple[str, Instrument], float] = defaultdict(float)
    for (account_id, symbol), qty in bot.bought_since_open(sorted(crypto_spellings)).items():
        if account_ids is None or account_id in account_ids:
            bought[(account_id, instrument(symbol))] += qty
    holdings: Holdings = defaultdict(dict)
    for (account_id, held), qty in quantities.items():
        holdings[account_id][held] = BotHolding(qty, bought.get((account_id, held), 0.0))
    return dict(holdings)
