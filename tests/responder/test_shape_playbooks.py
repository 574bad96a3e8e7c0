"""The ghost and stale-orders playbooks against the simulator's bot in each other shape (SQLite and PostgreSQL):
the responder deactivates the profile and quarantines orders through the shape's mapping, with configuration
only, and the simulated bot then acts on what it wrote (the profile refuses trades, the order stays quarantined).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from common.config import load_config
from sources.botapi import BotApi
from sources.botdata import BotData, open_bot_data
from tests.responder.harness import harness, sections
from tests.responder.payloads import ghost_labels
from tests.responder.servers import SlackCapture
from tests.responder.test_playbooks_e2e import Stack
from tests.simulator.helpers import probe_token
from tests.support.shapes import OTHER_SHAPES, shape_sections
from tests.support.simulator import merge, start_simulator

pytestmark = pytest.mark.slow
ORDER = {"symbol": "SPY", "qty": "1", "side": "buy", "type": "market", "time_in_force": "day"}


@pytest.fixture(params=OTHER_SHAPES)
def stack(request: pytest.FixtureRequest, tmp_path: Path, db_url: str, slack: tuple[SlackCapture, str]
          ) -> Iterator[Stack]:
    with start_simulator(tmp_path, db_url, **shape_sections(request.param)) as sim:
        config = merge(sections(tmp_path, db_url), {key: sim.sections[key] for key in ("bot_db", "broker", "bot",
                                                                                       "supabase")})
        config = merge(config, {"broker": {"read_timeout_seconds": 0.5}, "responder": {"max_close_notional": 1000}})
        env = {k: v for k, v in sim.env.items() if not k.startswith("RESPONDER_")}
        with harness(tmp_path, config, env={**env, "SLACK_WEBHOOK_URL": slack[1]}) as responder:
            yield Stack(sim, responder, slack[0])


@pytest.fixture
def bot(stack: Stack) -> Iterator[BotData]:
    gateway = open_bot_data(load_config(stack.sim.config_path, env={}).bot_db)
    yield gateway
    gateway.dispose()


def test_a_ghost_deactivates_the_profile_through_the_mapping(stack: Stack, bot: BotData) -> None:
    h = stack.responder
    ghost = stack.sim.inject("ghost", profile="p-1", cause="exchange-timeout")
    run_id = stack.fire(ghost_labels("p-1", ghost["account"], ghost["symbol"]))
    evidence = h.step(run_id, "evidence").output
    assert evidence["broker_position"]["qty"] == pytest.approx(ghost["broker_qty"])
    assert evidence["bot_orders"] and {o["symbol"] for o in evidence["bot_orders"]} == {ghost["symbol"]}
    assert h.step(run_id, "deactivate").state == "succeeded"
    profile = bot.profile("p-1")
    assert profile is not None and profile.entries.state == "stopped"
    with requests.Session() as session:
        refused = BotApi(stack.sim.bot_url, session, 5).post("/api/trade", {**ORDER, "profile_id": "p-1"},
                                                             probe_token(stack.sim, session))
    assert refused.status == 409 and refused.body["error"] == "profile_inactive"  # the bot reads what was written


def test_old_orders_missing_at_the_broker_are_quarantined_through_the_mapping(stack: Stack, bot: BotData) -> None:
    h = stack.responder
    stale = stack.sim.inject("stale-orders", profile="p-1", count=4, missing_at_broker=3, older_than_24h=2,
                             age_seconds=900)
    run_id = stack.fire({"alertname": "StalePendingOrders", "severity": "sev2", "profile": "p-1"})
    assert h.step(run_id, "check").output["counts"] == {"found": 1, "missing": 3, "unavailable": 0}
    quarantined = sorted(o["id"] for o in stale["orders"][:2])
    assert sorted(h.step(run_id, "quarantine").output["quarantined"]) == quarantined
    classes = {i: bot.order_class(s) for i, s in bot.order_statuses(stale["order_ids"]).items()}
    assert sorted(i for i, c in classes.items() if c == "quarantined") == quarantined
    assert sorted(o.id for o in bot.stale_orders(datetime.now(UTC), "p-1")) == sorted(stale["order_ids"][2:])
