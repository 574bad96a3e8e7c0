from __future__ import annotations

import pytest

from sources.instruments import Instrument, instrument


@pytest.mark.parametrize(
    ("spelling", "asset_class"),
    [
        ("BTC/USD", None),  # orders, assets, a bot in today's shape
        ("BTCUSD", None),  # positions, a bot that stores the compact form
        ("BTCUSD", "crypto"),  # a position the broker lists as crypto
        ("btc/usd", None),
        (" BTC/USD ", None),
    ],
)
def test_every_spelling_of_a_pair_is_one_instrument(spelling: str, asset_class: str | None) -> None:
    found = instrument(spelling, asset_class)
    assert found == Instrument("BTC", "USD")
    assert (found.symbol, found.position_symbol, found.crypto) == ("BTC/USD", "BTCUSD", True)
    assert found.spellings == ("BTC/USD", "BTCUSD")


@pytest.mark.parametrize(
    ("spelling", "pair"),
    [("LINKUSD", "LINK/USD"), ("ETHBTC", "ETH/BTC"), ("BTCUSDT", "BTC/USDT"), ("USDCUSD", "USDC/USD"),
     ("AAVEUSDC", "AAVE/USDC"), ("USDTUSD", "USDT/USD")],
)
def test_compact_pairs_split_at_alpacas_quote_currencies(spelling: str, pair: str) -> None:
    assert instrument(spelling).symbol == pair


@pytest.mark.parametrize("ticker", ["AAPL", "SPY", "GBTC", "BRK.B", "TSLA", "MSFT"])
def test_equities_keep_their_ticker(ticker: str) -> None:
    found = instrument(ticker)
    assert (found.symbol, found.position_symbol, found.crypto, found.spellings) == (ticker, ticker, False, (ticker,))


def test_the_brokers_asset_class_decides_a_short_or_ambiguous_symbol() -> None:
    assert instrument("OPUSD", "crypto").symbol == "OP/USD"  # too short to guess, but the broker says crypto
    assert not instrument("OPUSD").crypto
    assert not instrument("ABCDUSD", "us_equity").crypto  # the broker says equity: no guessing


def test_an_instrument_resolves_to_itself() -> None:
    pair = Instrument("ETH", "USD")
    assert instrument(pair) is pair and str(pair) == "ETH/USD"
