"""The crypto tests of test_crypto_positions.py against each other bot shape, on SQLite and PostgreSQL: in
the ``boolean`` shape the bot spells its pairs ``BTC-USD`` (``symbols.crypto_format``), and the exporters
still publish one ``symbol`` per instrument, the fee allowance, and a crypto ghost whatever the spelling."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

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
