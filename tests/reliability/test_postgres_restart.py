"""PostgreSQL restart mid-run: the responder's ledger lives on a private PostgreSQL server (initdb + pg_ctl on a
free port, so the machine's shared server and other tests are untouched) that is stopped — cleanly or like a
crash — while deliveries keep coming and playbooks run, kept down for a few seconds, then started again.

During the outage deliveries are answered 503 (Alertmanager retries them) and readiness is 503; once the
server is back they are accepted. Nothing lost: every alert recorded once, every run succeeded. No double
action: each profile deactivated once, each run notified and reconciled exactly once, no step claimed twice.
The bot's own database is a separate SQLite file here (in production it is a different server).
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from common.db import make_engine
from responder.ledger.schema import alerts
from sources.botdb import create_schema
from tests.reliability import delivery, privatepg
from tests.reliability.scale import SCALE
from tests.reliability.sideeffects import install_audit, seed_bot, status_changes
from tests.reliability.test_sigkill import ghost_group, profile_runs
from tests.responder.processes import responder_process, wait_for
from tests.support import databases

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

OUTAGE_SECONDS = 4.0
LEASE_SECONDS = 10.0  # longer than an outage (the default is 60 s); shorter ones re-run the step in flight
GHOSTS_PER_PHASE = 4


@pytest.fixture
def private_server() -> Any:
    problem = privatepg.unavailable()
    if problem and databases.postgres_required():
        pytest.fail(f"REQUIRE_POSTGRES=1 but no private PostgreSQL server can run: {problem}", pytrace=False)
    if problem:
        pytest.skip(f"no private PostgreSQL server: {problem}")
    with privatepg.private_postgres() as server:
        yield server


def test_ledger_restart_mid_run_is_503_then_accepted_with_nothing_lost_or_doubled(
    tmp_path: Path, private_server: privatepg.PrivatePostgres
) -> None:
    outages = SCALE.pg_outages
    bot_url = f"sqlite:///{tmp_path / 'bot.sqlite3'}"
    bot = make_engine(bot_url)
    ledger = make_engine(private_server.url)
    create_schema(bot)
    profiles = seed_bot(bot, profiles_per_account=4, accounts=outages * 2 + 1)[: (outages * 2 + 1) * GHOSTS_PER_PHASE]
    install_audit(bot)
    try:
        seen_down = run_outages(tmp_path, private_server, bot_url, ledger, profiles, outages)
        steps = delivery.step_rows(ledger)
        with ledger.connect() as conn:
            recorded = conn.execute(select(func.count()).select_from(alerts)).scalar_one()
        assert recorded == len(profiles)
        assert delivery.run_states(ledger) == Counter(succeeded=len(profiles))
        assert [s for s in steps if s.attempts != 1] == [], "a step was claimed twice"
        assert sorted(status_changes(bot)) == sorted((p, "active", "inactive") for p in profiles)
        assert seen_down["fx"].recorder.messages_by_profile() == Counter(profiles)
        assert seen_down["fx"].recorder.hooks_by_profile("reconcile") == Counter(profiles)
        assert set(profile_runs(ledger)) == set(profiles)
    finally:
        bot.dispose()
        ledger.dispose()
    print(f"\npostgres restart: {outages} outages of {OUTAGE_SECONDS:g} s; deliveries answered "
          f"{dict(seen_down['stats'])}; {len(profiles)} runs, each step once")


def run_outages(tmp_path: Path, server: privatepg.PrivatePostgres, bot_url: str, ledger: Any,
                profiles: list[str], outages: int) -> dict[str, Any]:
    phases = [profiles[i:i + GHOSTS_PER_PHASE] for i in range(0, len(profiles), GHOSTS_PER_PHASE)]
    with delivery.effects(delay_seconds=0.2) as fx:
        config = delivery.responder_config(tmp_path, server.url, bot_url, fx, lease_seconds=LEASE_SECONDS,
                                           poll_seconds=0.1)
        with responder_process(tmp_path, config, delivery.env(fx)) as rp:
            sender = delivery.Sender(rp.url, seed=11)
            with delivery.RepeatingSender(sender) as alertmanager:
                for n in range(outages):
                    alertmanager.add(*(ghost_group(p, profiles.index(p)) for p in phases[2 * n]))
                    wait_for(lambda: sender.stats["delivered"] > 0 and busy(ledger), what="playbooks running")
                    refused = sender.stats["http_503"]
                    server.stop("immediate" if n % 2 == 0 else "fast")
                    # alerts that first arrive during the outage
                    alertmanager.add(*(ghost_group(p, profiles.index(p)) for p in phases[2 * n + 1]))
                    wait_for(lambda r=refused: sender.stats["http_503"] > r, what="a 503 during the outage")
                    assert requests.get(f"{rp.url}/health/ready", timeout=5).status_code == 503
                    time.sleep(OUTAGE_SECONDS)
                    server.start()
                    wait_for(lambda: requests.get(f"{rp.url}/health/ready", timeout=5).status_code == 200,
                             what="ready again")
                alertmanager.add(*(ghost_group(p, profiles.index(p)) for p in phases[-1]))
                alertmanager.wait_full_pass()
                wait_for(lambda: delivery.run_states(ledger) == Counter(succeeded=len(profiles)), timeout=120,
                         what="every run to finish")
                time.sleep(config["responder"]["lease_seconds"] + 1)  # a re-claimed step would show up now
            assert not alertmanager.errors, alertmanager.errors
            assert "Traceback" not in rp.log(), rp.log()[-3000:]
    return {"fx": fx, "stats": sender.stats}


def busy(ledger: Any) -> bool:
    try:
        return delivery.run_states(ledger)["active"] > 0
    except Exception:
        return False
