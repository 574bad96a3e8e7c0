"""The simulated bot in another shape (``--bot-shape``) behaves as a bot of that shape does: its tables change
only when a row does (no ``updated_at`` re-touched every sync cycle), and what others write through the
gateway (a profile stopped or resumed, an order quarantined) is what the bot then acts on, never overwritten."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from common.config import load_config
from common.db import make_engine
from simulator.bot.shapes import SHAPES
from sources.botapi import BotApi
from sources.botdata import BotData, open_bot_data
from tests.simulator.helpers import probe_token, wait_for
from tests.support.shapes import OTHER_SHAPES, shape_cases, shape_sections
from tests.support.simulator import REPO_ROOT, RunningSimulator, merge, simulator_on_backend

FAST_SYNC = {"bot_db": {"stale_after_seconds": 2},  # the order sync cycles every 0.5 s
             "simulator": {"traffic": {"api_requests_per_second": 0, "websocket_connects_per_second": 0}}}
ORDER = {"symbol": "SPY", "qty": "1", "side": "buy", "type": "market", "time_in_force": "day"}


@pytest.fixture(scope="module", params=shape_cases(OTHER_SHAPES))
def shaped(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSimulator]:
    shape, backend = request.param
    overrides = merge(FAST_SYNC, shape_sections(shape))
    with simulator_on_backend(request, tmp_path_factory.mktemp(f"shape-{shape}-{backend}"), backend,
                              **overrides) as sim:
        yield sim


@pytest.fixture
def bot(shaped: RunningSimulator) -> Iterator[BotData]:
    shaped.reset()
    gateway = open_bot_data(load_config(shaped.config_path, env={}).bot_db)
    yield gateway
    gateway.dispose()


def shape_of(sim: RunningSimulator) -> str:
    return str(sim.sections["simulator"]["bot_shape"])


def clocks(sim: RunningSimulator) -> dict[str, object]:
    """Every order's last-change column in the shape's own table (the ``updated_at`` a real sync writes)."""
    shape = SHAPES[shape_of(sim)]
    table = shape.part("orders").table if shape.name == "strategy" else shape.part("bots").table
    column = "updated_at" if shape.name == "strategy" else "modified_at"
    engine = make_engine(sim.db_url)
    try:
        with engine.connect() as conn:
            return {str(row[0]): row[1] for row in conn.execute(select(table.c.id, table.c[column]))}
    finally:
        engine.dispose()


def test_sync_cycles_leave_unchanged_rows_alone(shaped: RunningSimulator, bot: BotData) -> None:
    before = clocks(shaped)
    assert before
    time.sleep(2.0)  # four sync cycles
    assert clocks(shaped) == before
    stale = shaped.inject("stale-orders", profile="p-2", count=1, age_seconds=30)
    time.sleep(1.0)
    assert stale["order_ids"][0] in [order.id for order in bot.stale_orders(datetime.now(UTC))]


def test_a_profile_stopped_through_the_gateway_stops_the_bot_trading(shaped: RunningSimulator, bot: BotData) -> None:
    now = datetime.now(UTC)
    assert bot.stop_entries("p-2", now).changed
    with requests.Session() as session:
        api = BotApi(shaped.bot_url, session, 5)
        token = probe_token(shaped, session)
        refused = api.post("/api/trade", {**ORDER, "profile_id": "p-2"}, token)
        assert refused.status == 409 and refused.body["error"] == "profile_inactive"
        assert bot.resume_entries("p-2", now).changed
        placed = api.post("/api/trade", {**ORDER, "profile_id": "p-2"}, token)
        assert placed.status == 200
        order_id = placed.body["order"]["id"]
    found = wait_for(lambda: bot.orders_of("p-2", "SPY", 10), timeout=5)  # the next sync cycle writes it
    assert order_id in [order.id for order in found]


def test_an_order_quarantined_through_the_gateway_stays_quarantined(shaped: RunningSimulator, bot: BotData) -> None:
    injected = shaped.inject("stale-orders", profile="p-1", count=1, age_seconds=600)
    order_id = injected["order_ids"][0]
    seen = bot.order_statuses([order_id])[order_id]
    assert bot.quarantine_order(order_id, seen, datetime.now(UTC)) == "quarantined"
    time.sleep(1.5)  # sync cycles pull the quarantine into the bot's state and write nothing over it
    assert bot.order_class(bot.order_statuses([order_id])[order_id]) == "quarantined"
    health = requests.get(shaped.bot_url + "/health", timeout=5).json()
    assert health["quarantined"] == 1


def test_an_unknown_shape_is_refused_by_name() -> None:
    done = subprocess.run([sys.executable, "-m", "simulator", "--bot-shape", "nope", "serve"], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "invalid choice: 'nope'" in done.stderr


@pytest.mark.parametrize("shape", OTHER_SHAPES)
def test_each_shape_config_is_the_local_one_but_for_the_bots_data_and_log(shape: str) -> None:
    """config/shapes/NAME.yml differs from config/local.yml only where the shape does (kept so by this test)."""
    local = load_config(REPO_ROOT / "config" / "local.yml", env={}).model_dump(mode="json")
    own = load_config(REPO_ROOT / "config" / "shapes" / f"{shape}.yml", env={}).model_dump(mode="json")
    for config in (local, own):
        config.pop("source")
        config["bot_db"].pop("url"), config["bot_db"].pop("mapping")
        config["bot"].pop("access_log"), config["bot"].pop("access_log_format")
        config["simulator"].pop("bot_shape")
    assert own == local
    sections = shape_sections(shape)
    assert sections["simulator"]["bot_shape"] == shape and Path(REPO_ROOT / "config" / "shapes").is_dir()
