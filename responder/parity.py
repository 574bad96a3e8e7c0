"""Position parity for one broker account: the bot's open positions (summed per instrument over every profile
of the account, whatever their spelling) against the broker's. The runbook re-enables a profile only once
parity is confirmed.

Quantities are compared as the exporter compares them (`sources.quantities`): equities exactly, crypto with the
fee paid in the asset as an allowance and dust left out. Those crypto differences are listed under
``explained``, so an operator sees why they do not block parity; anything else is a mismatch."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sources.assets import AssetDirectory
from sources.botdata import BotData
from sources.broker import BrokerClient, BrokerError
from sources.holdings import broker_holdings, open_holdings
from sources.quantities import Comparison, QuantityRules, compare_all


@dataclass(frozen=True)
class Parity:
    account: str
    bot: dict[str, float]
    broker: dict[str, float]
    mismatches: list[dict[str, Any]] = field(default_factory=list)
    explained: list[dict[str, Any]] = field(default_factory=list)  # crypto: within the fee allowance, or dust

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def as_dict(self) -> dict[str, Any]:
        return {"account": self.account, "bot": self.bot, "broker": self.broker, "mismatches": self.mismatches,
                "explained": self.explained}


def _view(comparison: Comparison) -> dict[str, Any]:
    return {"symbol": comparison.instrument.symbol, "bot_qty": comparison.bot_qty, "broker_qty": comparison.broker_qty}


def _explained(comparison: Comparison) -> bool:
    """A crypto difference that is not a mismatch only because of the fee allowance or dust."""
    return comparison.instrument.crypto and abs(comparison.broker_qty - comparison.bot_qty) > 1e-9


def account_parity(
    bot: BotData, broker: BrokerClient, account_id: str, rules: QuantityRules, assets: AssetDirectory
) -> Parity:
    """Compare per instrument; raises BrokerUnavailable when the positions cannot be read (never "flat").

    An asset that cannot be read leaves dust to the notional floor alone: more is a mismatch, never parity."""
    held = broker_holdings(broker.list_positions())
    recorded = open_holdings(bot, [account_id]).get(account_id, {})
    sizes = {found: assets.lookup(found, broker.get_asset, (BrokerError,)) for found in held if found.crypto}
    comparisons = compare_all(recorded, held, sizes, rules)
    mismatches = [_view(c) for c in comparisons if c.verdict != "parity"]
    explained = [
        {**_view(c), "fee_allowance": c.fee_allowance, "dust": c.dust}
        for c in comparisons
        if c.verdict == "parity" and _explained(c)
    ]
    return Parity(
        account_id,
        {found.symbol: holding.qty for found, holding in sorted(recorded.items())},
        {found.symbol: holding.qty for found, holding in sorted(held.items())},
        mismatches,
        explained,
    )
