"""Broker and bot quantities compared as a trader compares them.

Equities compare exactly (up to float rounding). A crypto pair does not:

- **Fee in the asset.** A crypto buy pays its fee in the asset received: a filled buy of 0.1 BTC/USD leaves
  0.09975 held while the order (and a bot that records it) says 0.1. The broker may therefore hold up to
  ``fee_rate`` x the bot's filled buys of its open position less than the bot records: the *fee allowance*.
- **Dust.** A quantity below the asset's ``min_order_size`` (no order can sell it) or worth less than
  ``dust_notional`` (1 USD by default) is dust: no exposure to page on. The broker's quantity that is dust
  (all of it while the bot records nothing, or its excess over the bot's record) is reported as dust,
  never as a ghost or a mismatch.

Anything else is what it was before: a ghost (the broker holds, the bot records nothing) or a mismatch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Literal

from sources.assets import BrokerAsset
from sources.instruments import Instrument

EPSILON = 1e-9  # float rounding of sums of fractional quantities
ALPACA_TOP_CRYPTO_TAKER_FEE = 0.0025  # the highest tier of Alpaca's crypto fee schedule (taker, 0.25 %)

Verdict = Literal["parity", "ghost", "mismatch"]


@dataclass(frozen=True)
class QuantityRules:
    fee_rate: float = ALPACA_TOP_CRYPTO_TAKER_FEE
    dust_notional: float = 1.0


@dataclass(frozen=True)
class BotHolding:
    qty: float = 0.0  # signed net of the open positions
    bought: float = 0.0  # filled buy quantity of those positions since they opened (what fees were paid on;
    # the opening buy is missing when it was placed before the position's opened_at: `compare` takes `qty` then)


@dataclass(frozen=True)
class BrokerHolding:
    qty: float = 0.0  # signed net
    price: float = 0.0  # current price per unit, 0 when unknown


@dataclass(frozen=True)
class Comparison:
    instrument: Instrument
    broker_qty: float
    bot_qty: float
    fee_allowance: float = 0.0  # the broker may hold this much less than the bot records
    dust: float = 0.0  # the broker's quantity that is dust

    @property
    def verdict(self) -> Verdict:
        difference = self.broker_qty - self.bot_qty
        if abs(self.bot_qty) <= EPSILON and abs(self.broker_qty) > EPSILON and self.dust == 0:
            return "ghost"
        if difference - self.dust > EPSILON or -difference - self.fee_allowance > EPSILON:
            return "mismatch"
        return "parity"


def is_dust(qty: float, price: float, asset: BrokerAsset | None, rules: QuantityRules) -> bool:
    """A positive quantity too small to trade (below min_order_size) or worth less than the notional floor."""
    if qty <= EPSILON:
        return False
    below_size = asset is not None and qty < asset.min_order_size - EPSILON
    below_notional = price > 0 and qty * price < rules.dust_notional
    return below_size or below_notional


def compare(
    instrument: Instrument,
    bot: BotHolding,
    broker: BrokerHolding,
    asset: BrokerAsset | None,
    rules: QuantityRules,
) -> Comparison:
    """Compare one instrument of one account; `asset` is the broker's asset (None when unknown)."""
    if not instrument.crypto:
        return Comparison(instrument, broker.qty, bot.qty)
    # a long position was bought at least once in full: its own quantity bounds the buys from below even when
    # the buy that opened it was placed before the position's opened_at and so is not in `bought`
    allowance = rules.fee_rate * max(bot.bought, bot.qty, 0.0)
    excess = broker.qty if abs(bot.qty) <= EPSILON else broker.qty - bot.qty
    dust = excess if is_dust(excess, broker.price, asset, rules) else 0.0
    return Comparison(instrument, broker.qty, bot.qty, allowance, dust)


def compare_all(
    recorded: Mapping[Instrument, BotHolding],
    held: Mapping[Instrument, BrokerHolding],
    assets: Mapping[Instrument, BrokerAsset | None],
    rules: QuantityRules,
) -> list[Comparison]:
    """One comparison per instrument either side holds, in label order."""
    return [
        compare(found, recorded.get(found, BotHolding()), held.get(found, BrokerHolding()), assets.get(found), rules)
        for found in sorted(recorded.keys() | held.keys(), key=lambda found: found.symbol)
    ]


@dataclass(frozen=True)
class CloseSize:
    """How much of a broker position a close sells: `qty` (None: nothing to sell) and why."""

    qty: float | None
    reason: str
    dust: float = 0.0  # what stays behind, left alone


def round_down(qty: float, increment: float) -> float:
    """`qty` rounded down to a whole number of `increment`s (decimal arithmetic: no float drift)."""
    step = Decimal(repr(increment))
    return float((Decimal(repr(qty)) / step).to_integral_value(ROUND_DOWN) * step)


def close_size(
    instrument: Instrument, held: float, price: float, asset: BrokerAsset | None, rules: QuantityRules
) -> CloseSize:
    """What closing a crypto position sells: what the broker holds (never the bot's record), rounded down to
    ``min_trade_increment``; long only; dust is left alone. Equities close whole (`qty` = `held`)."""
    if abs(held) <= EPSILON:
        return CloseSize(None, "flat")
    if not instrument.crypto:
        return CloseSize(held, "whole position")
    if held < 0:
        return CloseSize(None, f"{instrument} is held short ({held:g}): crypto is long only, nothing is sold")
    if asset is None or asset.min_trade_increment <= 0:
        return CloseSize(None, f"the min_trade_increment of {instrument} is unknown: the close cannot be sized")
    qty = round_down(held, asset.min_trade_increment)
    if qty <= EPSILON or is_dust(qty, price, asset, rules):
        return CloseSize(None, f"{held:g} {instrument} is dust: left alone", dust=held)
    remainder = max(held - qty, 0.0)
    reason = f"{qty:g} of {held:g} {instrument} (rounded down to {asset.min_trade_increment:g})"
    return CloseSize(qty, reason, dust=remainder)
