"""Soak: two responder replicas (gunicorn, 2 workers x 2 threads each) on one PostgreSQL ledger, fed like an
Alertmanager HA pair — every group from both peers, every ``repeat_interval`` round, with a share of the
200 answers treated as lost so the same delivery comes again (the retries after a 5xx/timeout).

No delivery lost: every occurrence (firing, then resolved) is recorded exactly once. No action twice: each
ghost's profile is deactivated once (bot DB audit trigger), each run notifies once and reconciles once
(recorder), every step was claimed exactly once, every run succeeded.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
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
from tests.support.ports import free_port

pytestmark = [pytest.mark.reliability, pytest.mark.postgres, pytest.mark.slow]

RESOLVED_AT = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)


def soak_groups(profiles: list[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]], Counter[str]]:
    """Firing groups (a ghost per profile, some with a quarantine alert and an unrouted one), the resolved
    groups for every other ghost, and the Slack messages each profile must get."""
    firing, resolved, expected = [], [], Counter[str]()
    for n, profile in enumerate(profiles):
        account = f"acct-{n // 4 + 1}"
        ghost = alert(ghost_labels(profile, account))
        items = [ghost]
        expected[profile] += 1
        if n % 2:
            items.append(alert({"alertname": "QuarantinedOrdersNeedReview", "severity": "sev3", "profile": profile}))
            expected[profile] += 1
        if n % 4 == 3:
            items.append(alert({"alertname": "SoakUnrouted", "profile": profile}))
        firing.append(notification(*items, group={"profile": profile}))
        if n % 2 == 0:
            resolved.append(notification(alert(ghost["labels"], "resolved", ends_at=RESOLVED_AT),
                                         group={"profile": profile}))
            expected[profile] += 1
    return firing, resolved, expected


def deliver_rounds(senders: list[delivery.Sender], groups: list[dict[str, Any]], rounds: int, seed: int) -> None:
    """Every round: every group from every sender, in a shuffled order, four at a time."""
    rng = random.Random(seed)
    with ThreadPoolExecutor(4) as pool:
        for _ in range(rounds):
            jobs = [(sender, group) for sender in senders for group in groups]
            rng.shuffle(jobs)
            for future in [pool.submit(sender.deliver, group) for sender, group in jobs]:
                future.result()


def settled(ledger: Any, expected_runs: int) -> bool:
    states = delivery.run_states(ledger)
    return sum(states.values()) == expected_runs and states["active"] == 0


def test_soak_of_repeated_and_duplicated_notifications_loses_nothing_and_acts_once(
    tmp_path: Path, postgres_url: str
) -> None:
    count = SCALE.soak_groups
    bot = make_engine(postgres_url)
    create_schema(bot)
    profiles = seed_bot(bot, profiles_per_account=4, accounts=(count + 3) // 4)[:count]
    install_audit(bot)
    firing, resolved, expected_messages = soak_groups(profiles)
    with delivery.effects() as fx:
        config_a = delivery.responder_config(tmp_path, postgres_url, postgres_url, fx)
        config_b = {**config_a, "responder": {**config_a["responder"], "listen": f"127.0.0.1:{free_port()}"}}
        env = delivery.env(fx)
        with responder_process(tmp_path, config_a, env, "a") as a, responder_process(tmp_path, config_b, env, "b") as b:
            senders = [delivery.Sender(a.url, lose_share=0.15, seed=1), delivery.Sender(b.url, lose_share=0.15, seed=2)]
            started = time.monotonic()
            deliver_rounds(senders, firing, SCALE.soak_rounds, seed=3)
            ghosts_and_quarantines = sum(len(g["alerts"]) for g in firing) - count // 4
            wait_for(lambda: settled(bot, ghosts_and_quarantines), timeout=120, what="the firing runs to finish")
            deliver_rounds(senders, resolved, max(2, SCALE.soak_rounds // 3), seed=4)
            wait_for(lambda: settled(bot, ghosts_and_quarantines + len(resolved)), timeout=120,
                     what="the resolved runs to finish")
            elapsed = time.monotonic() - started
            time.sleep(1.0)  # anything executed twice would show up now
            logs = a.log() + b.log()
        stats = senders[0].stats + senders[1].stats
        with bot.connect() as conn:
            occurrences = conn.execute(select(alerts.c.status, func.count()).group_by(alerts.c.status)).all()
        steps = delivery.step_rows(bot)
        assert dict(occurrences) == {"firing": sum(len(g["alerts"]) for g in firing), "resolved": len(resolved)}
        assert delivery.run_states(bot) == Counter(succeeded=ghosts_and_quarantines + len(resolved))
        assert [s for s in steps if s.attempts != 1] == [], "a step was claimed more than once"
        assert sorted(status_changes(bot)) == sorted((p, "active", "inactive") for p in profiles)
        assert fx.recorder.messages_by_profile() == expected_messages
        assert fx.recorder.hooks_by_profile("reconcile") == Counter(profiles)
    bot.dispose()
    deliveries = sum(v for k, v in stats.items() if k.startswith("http_"))
    assert stats["lost_ack"] > 0 and stats["transport_error"] == 0, stats
    print(f"\nsoak: {deliveries} deliveries ({stats['lost_ack']} re-sent after a lost answer) of "
          f"{len(firing) + len(resolved)} groups from 2 senders to 2 replicas in {elapsed:.1f} s; "
          f"{len(steps)} steps, each executed once")
    assert "Traceback" not in logs, logs[-3000:]
