"""The simulated market: a fixed price per symbol, so runs are reproducible."""

from __future__ import annotations

PRICES = {"AAPL": 190.0, "MSFT": 410.0, "TSLA": 240.0, "NVDA": 120.0, "AMZN": 180.0, "SPY": 520.0}


def price_of(symbol: str) -> float:
    """The simulated market price of `symbol` (fixed, so runs are reproducible)."""
    return PRICES.get(symbol, 50.0 + sum(map(ord, symbol)) % 200)
