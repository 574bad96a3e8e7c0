"""How big the reliability suite runs: ``RELIABILITY_SCALE=ci`` (default, inside ``make test``) or ``long``
(``make bench``'s soak). Every loop in the suite is bounded by these numbers."""

from __future__ import annotations

import os
from dataclasses import dataclass

ENV = "RELIABILITY_SCALE"


@dataclass(frozen=True)
class Scale:
    name: str
    fuzz_bodies: int  # hypothesis cases per fuzz family (five families: >= 10,000 cases in all)
    fuzz_labels: int  # accepted deliveries with hostile labels, drained through the real playbooks
    fuzz_postgres: int  # cases of the PostgreSQL leg (every family)
    schemathesis_examples: int  # per operation and generation mode
    soak_rounds: int  # repeat_interval rounds of every group, from two senders
    soak_groups: int
    sigkill_iterations: int
    storm_scrapes: int  # ghost-collector scrapes per storm mode
    storm_checks: int  # stale-order checks per storm mode
    pg_outages: int  # private PostgreSQL stops/restarts during the run

    @property
    def long(self) -> bool:
        return self.name == "long"


CI = Scale("ci", fuzz_bodies=2_000, fuzz_labels=400, fuzz_postgres=150, schemathesis_examples=100,
           soak_rounds=12, soak_groups=24, sigkill_iterations=5, storm_scrapes=25, storm_checks=6, pg_outages=1)
LONG = Scale("long", fuzz_bodies=10_000, fuzz_labels=3_000, fuzz_postgres=2_000, schemathesis_examples=1_000,
             soak_rounds=120, soak_groups=60, sigkill_iterations=40, storm_scrapes=200, storm_checks=40, pg_outages=4)
FUZZ_FAMILIES = 5
assert CI.fuzz_bodies * FUZZ_FAMILIES >= 10_000, "the CI scale must fuzz the webhook with at least 10,000 cases"


def current() -> Scale:
    name = os.environ.get(ENV, "ci").strip().lower() or "ci"
    if name not in ("ci", "long"):
        raise ValueError(f"${ENV} must be 'ci' or 'long', not {name!r}")
    return LONG if name == "long" else CI


SCALE = current()
