"""The crypto tests of test_crypto_positions.py against each other bot shape, on SQLite and PostgreSQL: in
the ``boolean`` shape the bot spells its pairs ``BTC-USD`` (``symbols.crypto_format``), and the exporters
still publish one ``symbol`` per instrument, the fee allowance, a crypto ghost whatever the spelling, and a
crypto fill race that ends in parity."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.exporters.conftest import Exporter
from tests.exporters.test_crypto_positions import (  # noqa: F401 - collected again against each shape
    QUIET,
    SEED,
    exporter,
    test_a_crypto_ghost_is_one_whatever_the_bots_spelling,
    test_one_symbol_per_pair_and_the_fee_paid_in_the_asset_is_an_allowance,
)
from tests.support.shapes import OTHER_SHAPES, shape_cases, shape_sections
from tests.support.simulator import RunningSimulator, merge, simulator_on_backend


@pytest.fixture(scope="module", params=shape_cases(OTHER_SHAPES))
def crypto_sim(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSimulator]:
    shape, backend = request.param
    overrides = merge({"simulator": {"seed": SEED, "traffic": QUIET}}, shape_sections(shape))
    with simulator_on_backend(request, tmp_path_factory.mktemp(f"crypto-{shape}-{backend}"), backend,
                              **overrides) as sim:
        yield sim


def test_a_crypto_fill_race_is_a_ghost_only_until_the_bot_records_the_fill(exporter: Exporter) -> None:  # noqa: F811
    """crypto-fill-race: the broker credits the buy (less the fee) first; once the bot records it, in its own
    spelling, the pair is in parity again (the fee paid in the asset is an allowance, not a mismatch)."""
    applied = exporter.sim.inject("crypto-fill-race", qty=0.02, seconds=1)
    btc = {"account": "acct-1", "symbol": "BTC/USD"}
    assert (applied["profile"], applied["symbol"]) == ("p-3", "BTC/USD")
    assert exporter.value("tradingbot_ghost_position", **btc, profile="p-3") is None  # the bot holds 0.05 already
    deadline = time.monotonic() + 10
    while exporter.value("tradingbot_bot_position_quantity", **btc) != pytest.approx(0.07):
        assert time.monotonic() < deadline, "the bot never recorded the fill"
        time.sleep(0.2)
    scrape = exporter.scrape()
    assert scrape.value("tradingbot_broker_position_quantity", **btc) == pytest.approx(0.07 * 0.9975)
    assert scrape.samples("tradingbot_ghost_position") == {}
    allowance = scrape.value("tradingbot_position_fee_allowance_quantity", **btc)
    assert allowance is not None and allowance >= 0.07 - 0.07 * 0.9975 - 1e-9  # PositionMismatch stays quiet
