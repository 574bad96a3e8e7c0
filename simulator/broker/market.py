"""The simulated market: a fixed price per instrument, so runs are reproducible, and the crypto assets'
trading rules (Alpaca's ``min_order_size`` / ``min_trade_increment`` / ``price_increment``, its top taker fee)."""

from __future__ import annotations

from dataclasses import dataclass

from sources.instruments import Instrument, instrument

PRICES = {"AAPL": 190.0, "MSFT": 410.0, "TSLA": 240.0, "NVDA": 120.0, "AMZN": 180.0, "SPY": 520.0,
          "BTC/USD": 60_000.0, "ETH/USD": 3_000.0, "LINK/USD": 15.0}
CRYPTO_FEE_RATE = 0.0025  # every simulated crypto buy is a taker at Alpaca's top tier; the fee is paid in the asset
CRYPTO_PRECISION = 9  # Alpaca's crypto quantities carry at most 9 decimals


@dataclass(frozen=True)
class CryptoAsset:
    min_order_size: float
    min_trade_increment: float
    price_increment: float


CRYPTO_ASSETS = {
    "BTC/USD": CryptoAsset(0.0001, 0.000000001, 1.0),
    "ETH/USD": CryptoAsset(0.001, 0.000000001, 0.1),
    "LINK/USD": CryptoAsset(0.1, 0.001, 0.001),
}
DEFAULT_CRYPTO_ASSET = CryptoAsset(0.001, 0.000000001, 0.01)


def price_of(symbol: str | Instrument) -> float:
    """The simulated market price of `symbol`, in any spelling (fixed, so runs are reproducible)."""
    key = instrument(symbol).symbol
    return PRICES.get(key, 50.0 + sum(map(ord, key)) % 200)


def crypto_asset(symbol: str | Instrument) -> CryptoAsset | None:
    """The trading rules of a crypto pair (None for an equity)."""
    found = instrument(symbol)
    return CRYPTO_ASSETS.get(found.symbol, DEFAULT_CRYPTO_ASSET) if found.crypto else None
