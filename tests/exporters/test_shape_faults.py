"""Every fault kind that applies, against the simulator's bot in each other shape (config/shapes/*.yml), on
SQLite and PostgreSQL: the exporters read the shape's own tables with its mapping and nothing else.

The tests are the default shape's own, collected here again: this module's `shared_sim` (which the imported
tests' fixtures build on) runs the simulator with `--bot-shape` and the shape's mapping and access log format;
test_shape_crypto.py does the same for the crypto tests. A few checks only a shape shows (a resting limit
order is never stale, however old its last update) follow.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from tests.exporters.conftest import SETTINGS, Exporter, ManualClock, make_exporter
from tests.exporters.test_auth_failures import (  # noqa: F401 - collected again against each shape
    failures,
    scrape_after,
    test_auth_bypass_is_seen_by_the_unauthenticated_trade_probe,
    test_bad_client_tokens_are_counted_per_channel_and_code,
    test_bot_degraded_fails_readiness_only,
    test_healthy_bot_passes_every_probe_and_counts_requests,
    test_misconfigured_verification_key_fails_the_authenticated_probe,
    test_stale_orders_and_quarantine_are_counted,
    test_supabase_outage_fails_issuance_but_the_cached_token_still_works,
)
from tests.exporters.test_ghost_positions import (  # noqa: F401
    test_fill_race_settles_and_is_never_a_ghost_until_the_bot_records_the_fill,
    test_ghost_is_reported_per_impacted_profile,
    test_parity_at_start_means_no_ghost,
    test_phantom_is_a_mismatch_but_not_a_ghost,
    test_unreadable_broker_gives_no_verdict_for_that_account,
)
from tests.support.shapes import OTHER_SHAPES, shape_cases, shape_sections
from tests.support.simulator import RunningSimulator, merge, simulator_on_backend

CASES = shape_cases(OTHER_SHAPES)


@pytest.fixture(scope="module", params=CASES)
def shared_sim(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSimulator]:
    shape, backend = request.param
    overrides = merge(SETTINGS, shape_sections(shape))
    with simulator_on_backend(request, tmp_path_factory.mktemp(f"{shape}-{backend}"), backend, **overrides) as sim:
        yield sim


def test_no_resting_limit_order_is_ever_stale_but_a_stuck_market_order_is(sim: RunningSimulator) -> None:
    """The shape's updated_at moves only on change: two days on, every seeded working order (a resting GTC
    limit order) is still not stale; the stale-orders fault's stuck orders are, from their submission."""
    clock = ManualClock()
    later = make_exporter(sim, clock=clock)
    try:
        clock.advance(timedelta(days=2).total_seconds())
        assert sum(later.samples("tradingbot_stale_orders").values()) == 0
        sim.inject("stale-orders", profile="p-3", count=2, age_seconds=400)
        scrape = later.scrape()
        assert scrape.value("tradingbot_stale_orders", profile="p-3") == 2
        assert sum(scrape.samples("tradingbot_stale_orders").values()) == 2
    finally:
        later.close()


def test_the_mapping_names_every_value_the_shape_writes(exporter: Exporter) -> None:
    exporter.sim.inject("stale-orders", profile="p-1", count=1)
    exporter.sim.inject("ghost", profile="p-2")
    scrape = exporter.scrape()
    assert scrape.value("tradingbot_collector_up", collector="unmapped_values") == 1
    assert {k: v for k, v in scrape.samples("tradingbot_unmapped_value_rows").items() if v} == {}


def test_insufficient_funds_403_is_never_an_auth_failure(exporter: Exporter) -> None:
    """The shape's own log format says which 403 is the broker's refusal (bot.access_log_format.insufficient_funds)."""
    exporter.scrape()
    exporter.sim.inject("insufficient-funds", share=1.0)
    later = scrape_after(exporter, 2.5)
    assert failures(later, "api") == 0
    requests = later.value("tradingbot_requests_total", channel="api")
    assert requests is not None and requests > 0
