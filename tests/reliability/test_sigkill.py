"""SIGKILL loops: a responder (gunicorn master and workers) is killed with SIGKILL again and again while its
playbooks run and while an Alertmanager stand-in keeps delivering (and retrying through the outages), then
restarted on the same port with a short lease (``responder.lease_seconds``), on a PostgreSQL ledger.

Nothing lost: every alert is recorded once and every run reaches its end (succeeded). Nothing done twice
that had finished: each ghost's profile is deactivated exactly once (compare-and-set, bot DB audit); a step
re-runs only when a kill interrupted it mid-flight (its ``attempts`` > 1, at most one step per executor
thread per kill), and only such a step may have repeated its external call (Slack, the bot's reconcile
hook): at-least-once for the one call in flight at the crash, never for anything that had been recorded.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from common.db import make_engine
from responder.ledger.schema import alerts
from sources.botdb import create_schema
from tests.reliability import delivery
from tests.reliability.scale import SCALE
from tests.reliability.sideeffects import install_audit, seed_bot, status_changes
from tests.responder.payloads import alert, ghost_labels, notification
from tests.responder.processes import responder_process, wait_for

pytestmark = [pytest.mark.reliability, pytest.mark.postgres, pytest.mark.slow]

NEW_GHOSTS_PER_ITERATION = 3
LEASE_SECONDS = 2.0
WORKERS, THREADS = 2, 2


def ghost_group(profile: str, number: int) -> dict[str, Any]:
    return notification(alert(ghost_labels(profile, f"acct-{number // 4 + 1}")), group={"profile": profile})


def attempts_by(steps: list[Any]) -> dict[tuple[int, str], int]:
    return {(s.run_id, s.name): s.attempts for s in steps}


def test_sigkill_loops_lose_nothing_and_repeat_only_the_interrupted_step(tmp_path: Path, postgres_url: str) -> None:
    iterations = SCALE.sigkill_iterations
    bot = make_engine(postgres_url)
    create_schema(bot)
    profiles = seed_bot(bot, profiles_per_account=4, accounts=(iterations * NEW_GHOSTS_PER_ITERATION + 3) // 4 + 1)
    profiles = profiles[: iterations * NEW_GHOSTS_PER_ITERATION]
    install_audit(bot)
    try:
        run_kill_loop(tmp_path, postgres_url, bot, profiles, iterations)
    finally:
        bot.dispose()


def run_kill_loop(tmp_path: Path, postgres_url: str, bot: Any, profiles: list[str], iterations: int) -> None:
    rng = random.Random(7)
    kills = 0
    with delivery.effects(delay_seconds=0.25) as fx:  # slow Slack and bot hooks: kills land mid-call
        config = delivery.responder_config(tmp_path, postgres_url, postgres_url, fx, workers=WORKERS, threads=THREADS,
                                           lease_seconds=LEASE_SECONDS, poll_seconds=0.1)
        env = delivery.env(fx)
        host, port = config["responder"]["listen"].split(":")
        sender = delivery.Sender(f"http://{host}:{port}", seed=8)
        with delivery.RepeatingSender(sender) as alertmanager:
            for i in range(iterations):
                with responder_process(tmp_path, config, env, f"life-{i}") as rp:
                    batch = profiles[i * NEW_GHOSTS_PER_ITERATION:(i + 1) * NEW_GHOSTS_PER_ITERATION]
                    alertmanager.add(*(ghost_group(p, profiles.index(p)) for p in batch))
                    time.sleep(rng.uniform(0.4, 1.6))
                    rp.kill9()
                    kills += 1
                assert not alertmanager.errors, alertmanager.errors
            with responder_process(tmp_path, config, env, "final") as rp:
                alertmanager.wait_full_pass()
                wait_for(lambda: delivery.run_states(bot) == Counter(succeeded=len(profiles)), timeout=120,
                         what="every run to finish")
                time.sleep(LEASE_SECONDS + 1)  # a step re-claimed twice would show up now
                log = rp.log()
        assert not alertmanager.errors, alertmanager.errors
        steps = delivery.step_rows(bot)
        with bot.connect() as conn:
            recorded = conn.execute(select(func.count()).select_from(alerts)).scalar_one()
        assert recorded == len(profiles), "every alert recorded exactly once"
        assert delivery.run_states(bot) == Counter(succeeded=len(profiles))
        assert sorted(status_changes(bot)) == sorted((p, "active", "inactive") for p in profiles)
        interrupted = [s for s in steps if s.attempts > 1]
        assert interrupted, "no kill hit a step in flight: the loop proved nothing"
        assert len(interrupted) <= kills * WORKERS * THREADS
        runs_by_profile = profile_runs(bot)
        tries = attempts_by(steps)
        messages, hooks = fx.recorder.messages_by_profile(), fx.recorder.hooks_by_profile("reconcile")
        for profile in profiles:
            run_id = runs_by_profile[profile]
            assert 1 <= messages[profile] <= tries[(run_id, "notify")], (profile, messages[profile])
            assert 1 <= hooks[profile] <= tries[(run_id, "reconcile")], (profile, hooks[profile])
    repeated = sum(messages.values()) - len(profiles) + sum(hooks.values()) - len(profiles)
    print(f"\nsigkill: {kills} kills, {len(profiles)} runs, {len(interrupted)} steps interrupted mid-flight and "
          f"re-claimed, {repeated} external calls repeated by them; delivery stats {dict(sender.stats)}")
    assert "Traceback" not in log, log[-3000:]


def profile_runs(engine: Any) -> dict[str, int]:
    from responder.ledger.schema import runs
    from responder.ledger.store import loads

    with engine.connect() as conn:
        rows = conn.execute(select(runs.c.id, alerts.c.labels).join(alerts, alerts.c.id == runs.c.alert_id)).all()
    return {loads(labels)["profile"]: run_id for run_id, labels in rows}
