from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sources.assets import AssetDirectory, BrokerAsset, parse_asset
from sources.broker import BrokerUnavailable
from sources.instruments import Instrument, instrument

BTC = instrument("BTC/USD")


def test_a_crypto_asset_carries_its_sizes_and_an_equity_none() -> None:
    asset = parse_asset({"symbol": "BTC/USD", "class": "crypto", "min_order_size": "0.0001",
                         "min_trade_increment": "0.000000001", "price_increment": "1", "tradable": True})
    assert (asset.instrument, asset.min_order_size, asset.min_trade_increment) == (BTC, 0.0001, 0.000000001)
    equity = parse_asset({"symbol": "AAPL", "class": "us_equity"})
    assert (equity.instrument.crypto, equity.min_order_size) == (False, 0.0)


@pytest.mark.parametrize(
    ("raw", "problem"),
    [({"class": "crypto"}, "symbol is missing"), ({"symbol": "BTC/USD"}, "class is missing"),
     ({"symbol": "BTC/USD", "class": "crypto", "min_order_size": "lots"}, "min_order_size is not a number"),
     ({"symbol": "BTC/USD", "class": "crypto", "min_trade_increment": "-1"}, "min_trade_increment is negative")],
)
def test_unusable_assets_are_a_value_error_naming_the_field(raw: dict[str, object], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_asset(raw)


def test_the_directory_keeps_definite_answers_for_its_ttl_and_asks_again_after_a_failure() -> None:
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    directory = AssetDirectory(lambda: now[0], timedelta(hours=1))
    calls: list[Instrument] = []
    answers: list[BrokerAsset | Exception | None] = [
        BrokerUnavailable("timeout", "slow"), BrokerAsset("BTC/USD", "crypto", 0.0001), None
    ]

    def fetch(wanted: Instrument) -> BrokerAsset | None:
        calls.append(wanted)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert directory.lookup(BTC, fetch, (BrokerUnavailable,)) is None  # failed: not kept
    found = directory.lookup(BTC, fetch, (BrokerUnavailable,))
    assert found is not None and found.min_order_size == 0.0001
    assert directory.lookup(BTC, fetch, (BrokerUnavailable,)) is found and len(calls) == 2  # cached
    now[0] += timedelta(hours=1, seconds=1)
    assert directory.lookup(BTC, fetch, (BrokerUnavailable,)) is None and len(calls) == 3  # "no such asset", fresh
    assert directory.cached(BTC) == (True, None)
