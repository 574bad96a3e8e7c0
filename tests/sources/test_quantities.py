"""A trader's comparison: the fee a crypto buy pays in the asset, dust by size and by notional, the close size."""

from __future__ import annotations

import pytest

from sources.assets import BrokerAsset
from sources.instruments import instrument
from sources.quantities import BotHolding, BrokerHolding, QuantityRules, close_size, compare, is_dust, round_down

RULES = QuantityRules(fee_rate=0.0025, dust_notional=1.0)
BTC = instrument("BTC/USD")
BTC_ASSET = BrokerAsset("BTC/USD", "crypto", min_order_size=0.0001, min_trade_increment=0.000000001)
LINK = instrument("LINK/USD")
LINK_ASSET = BrokerAsset("LINK/USD", "crypto", min_order_size=0.1, min_trade_increment=0.01)


def verdict(bot: BotHolding, broker: BrokerHolding, asset: BrokerAsset | None = BTC_ASSET, symbol: str = "BTC/USD"
            ) -> str:
    return compare(instrument(symbol), bot, broker, asset, RULES).verdict


def test_a_buy_whose_fee_was_paid_in_the_asset_is_parity() -> None:
    comparison = compare(BTC, BotHolding(0.1, bought=0.1), BrokerHolding(0.09975, 60_000.0), BTC_ASSET, RULES)
    assert comparison.fee_allowance == pytest.approx(0.00025)
    assert (comparison.verdict, comparison.dust) == ("parity", 0.0)


def test_the_fee_allowance_holds_inside_and_not_just_outside() -> None:
    bot = BotHolding(1.0, bought=1.0)  # allowance 0.0025
    assert verdict(bot, BrokerHolding(0.9975, 60_000.0)) == "parity"
    assert verdict(bot, BrokerHolding(0.9975 - 0.00001, 60_000.0)) == "mismatch"


def test_the_allowance_is_the_fee_on_every_buy_of_the_open_position_even_after_a_partial_sale() -> None:
    # bought 0.1 (fee 0.00025 in BTC), sold 0.05: the bot records 0.05, the broker holds 0.04975
    assert verdict(BotHolding(0.05, bought=0.1), BrokerHolding(0.04975, 60_000.0)) == "parity"


def test_a_fresh_position_whose_opening_buy_predates_its_opened_at_still_has_its_fee_allowed() -> None:
    # a real bot records the position when the fill arrives: the buy order was created before it, so it is not
    # among the buys "since the position opened" (bought 0); the position's own quantity was still bought
    assert verdict(BotHolding(0.1, bought=0.0), BrokerHolding(0.09975, 60_000.0)) == "parity"
    assert verdict(BotHolding(0.1, bought=0.0), BrokerHolding(0.09975 - 0.00001, 60_000.0)) == "mismatch"


def test_the_broker_holding_more_than_the_bot_is_no_fee_and_stays_a_mismatch() -> None:
    assert verdict(BotHolding(0.1, bought=0.1), BrokerHolding(0.1003, 60_000.0)) == "mismatch"


@pytest.mark.parametrize(
    ("qty", "price", "asset", "dust"),
    [
        (0.00009, 60_000.0, BTC_ASSET, True),  # below min_order_size 0.0001 (worth 5.40 USD)
        (0.0001, 60_000.0, BTC_ASSET, False),  # exactly min_order_size, worth 6 USD
        (0.09, 10.0, LINK_ASSET, True),  # below min_order_size 0.1
        (0.5, 1.9, LINK_ASSET, True),  # above min_order_size, worth 0.95 USD: below the 1 USD floor
        (0.55, 1.9, LINK_ASSET, False),  # worth 1.045 USD
        (0.00009, 60_000.0, None, False),  # asset unknown: size cannot say; 5.40 USD is above the floor
        (0.00001, 60_000.0, None, True),  # asset unknown, worth 0.60 USD
    ],
)
def test_dust_by_size_and_by_notional(qty: float, price: float, asset: BrokerAsset | None, dust: bool) -> None:
    assert is_dust(qty, price, asset, RULES) is dust


def test_dust_the_bot_does_not_record_is_never_a_ghost_and_is_reported() -> None:
    comparison = compare(BTC, BotHolding(), BrokerHolding(0.000003, 60_000.0), BTC_ASSET, RULES)
    assert (comparison.verdict, comparison.dust) == ("parity", 0.000003)
    by_notional = compare(LINK, BotHolding(), BrokerHolding(0.5, 1.9), LINK_ASSET, RULES)
    assert (by_notional.verdict, by_notional.dust) == ("parity", 0.5)


def test_more_than_dust_the_bot_does_not_record_is_a_ghost() -> None:
    assert verdict(BotHolding(), BrokerHolding(0.0001, 60_000.0)) == "ghost"
    assert verdict(BotHolding(0.0, bought=0.0), BrokerHolding(4.0, 15.0), LINK_ASSET, "LINK/USD") == "ghost"


def test_dust_on_top_of_a_recorded_position_is_reported_not_a_mismatch() -> None:
    comparison = compare(BTC, BotHolding(0.1, bought=0.1), BrokerHolding(0.10002, 60_000.0), BTC_ASSET, RULES)
    assert (comparison.verdict, comparison.dust) == ("parity", pytest.approx(0.00002))


def test_a_bot_position_the_broker_does_not_hold_stays_a_mismatch_beyond_the_fee() -> None:
    assert verdict(BotHolding(0.1, bought=0.1), BrokerHolding()) == "mismatch"
    assert verdict(BotHolding(0.00025, bought=0.1), BrokerHolding()) == "parity"  # only the fee is left


def test_equities_compare_exactly() -> None:
    aapl = instrument("AAPL")
    assert compare(aapl, BotHolding(10.0, bought=10.0), BrokerHolding(9.99, 190.0), None, RULES).verdict == "mismatch"
    ghost = compare(aapl, BotHolding(), BrokerHolding(0.001, 190.0), None, RULES)
    assert (ghost.verdict, ghost.dust, ghost.fee_allowance) == ("ghost", 0.0, 0.0)
    assert compare(aapl, BotHolding(0.1 + 0.2), BrokerHolding(0.3, 190.0), None, RULES).verdict == "parity"


def test_the_close_sells_what_the_broker_holds_rounded_down_to_the_increment() -> None:
    size = close_size(LINK, 3.98765, 15.0, LINK_ASSET, RULES)
    assert size.qty == 3.98 and size.dust == pytest.approx(0.00765)
    assert close_size(BTC, 0.0997531234567, 60_000.0, BTC_ASSET, RULES).qty == 0.099753123


def test_the_close_leaves_dust_alone_and_refuses_what_it_cannot_size() -> None:
    dust = close_size(BTC, 0.00005, 60_000.0, BTC_ASSET, RULES)
    assert dust.qty is None and "dust" in dust.reason and dust.dust == 0.00005
    assert close_size(LINK, 0.109, 15.0, LINK_ASSET, RULES).qty == 0.1  # 0.109 rounds to 0.10: still sellable
    assert close_size(LINK, 0.104, 15.0, LINK_ASSET, RULES).qty == 0.1
    short = close_size(BTC, -0.5, 60_000.0, BTC_ASSET, RULES)
    assert short.qty is None and "long only" in short.reason
    assert close_size(BTC, 0.5, 60_000.0, None, RULES).qty is None
    assert close_size(BTC, 0.0, 60_000.0, BTC_ASSET, RULES).reason == "flat"
    assert close_size(instrument("AAPL"), 12.0, 190.0, None, RULES).qty == 12.0


def test_round_down_has_no_float_drift() -> None:
    assert round_down(0.3, 0.1) == 0.3
    assert round_down(1.0000000009, 0.000000001) == 1.0
    assert round_down(0.29999, 0.01) == 0.29
