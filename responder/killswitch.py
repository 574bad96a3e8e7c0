"""The graduated kill switch: one function engages a level, whichever surface asks (console, API, CLI, a
playbook step); `responder.operations` exposes it with the other operator workflows.

Levels, each including the ones before it (FIA's guidance for automated trading: stop new orders, cancel
working ones, still allow risk-reducing orders):

- ``stop-entries``: stop the new entries of every trading unit (profile), or a chosen set, through the
  bot database gateway's compare-and-set (as the mapping says);
- ``cancel-working``: then cancel every working order at the broker on those profiles' accounts (the
  broker acts per account: every profile trading through those accounts is covered, and stopped, too);
- ``flatten``: then close the broker-held positions on those accounts, reduce-only (never more than the
  broker holds, never flipping the side; crypto rounded down, dust left alone) — two different operators
  approve it, and it re-checks the positions right before it runs.

An engagement is a ledger run of the level's steps (each acts once, with before/after recorded); a level
is engaged at most once at a time (an engagement whose run left work undone, e.g. a flatten nobody
approved in time, is superseded by engaging the level again). It is released when every profile it
covers has been re-armed through the parity-checked re-enable.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Engine

from responder.actions.context import Services
from responder.ledger import killswitch as ledger
from responder.ledger.killswitch import KILL_SWITCH_ALERTNAME, LEVELS, Engaged, Engagement, EngageRequest, Level
from responder.logs import log
from responder.playbooks import Playbook, StepSpec
from responder.wakeup import Wakeup

logger = logging.getLogger(__name__)



@dataclass(frozen=True)
class Refused:
    result: Literal["unknown_level", "unknown_profiles", "no_profiles", "mode_off"]
    detail: str


def level_playbook(level: Level, profiles: Sequence[str]) -> Playbook:
    """The steps of a level: stop entries, then cancel working orders, then flatten (two-person)."""
    params = {"profiles": list(profiles)}
    steps = [StepSpec(name="stop-entries", action="stop_entries", params=params, continue_on_failure=True)]
    if level in ("cancel-working", "flatten"):
        steps.append(StepSpec(name="cancel-working", action="cancel_working_orders", params=params,
                              continue_on_failure=True))
    if level == "flatten":
        steps.append(StepSpec(name="flatten", action="flatten_positions", params=params, policy="approval",
                              two_person=True))
    return Playbook(KILL_SWITCH_ALERTNAME, level, tuple(steps))


class KillSwitch:
    def __init__(self, ledger_engine: Engine, services: Services, wakeup: Wakeup) -> None:
        self._ledger = ledger_engine
        self._services = services
        self._wakeup = wakeup

    def engage(
        self, level: str, profiles: Sequence[str] | None, by: str, reason: str, surface: str
    ) -> Engaged | Refused:
        """Engage `level` for `profiles` (None: every profile); the level's engagement in force when there is
        one (``already_engaged``: nothing new runs)."""
        if level not in LEVELS:
            return Refused("unknown_level", f"the levels are {', '.join(LEVELS)}")
        if self._services.responder.mode == "off":
            return Refused("mode_off", "responder.mode is off: no step would run")
        accounts = {p.id: set(p.accounts) for p in self._services.bot.profiles()}
        known = sorted(accounts)
        chosen = sorted(set(profiles)) if profiles else known
        unknown = [p for p in chosen if p not in known]
        if unknown:
            return Refused("unknown_profiles", f"no such profile: {', '.join(unknown)}")
        if level != "stop-entries":  # the broker acts per account: stop every profile trading through them too
            reached = {a for p in chosen for a in accounts[p]}
            chosen = [p for p in known if p in chosen or accounts[p] & reached]
        if not chosen:
            return Refused("no_profiles", "the bot's database has no profile")
        typed: Level = level
        request = EngageRequest(typed, tuple(chosen), by, reason, surface)
        now = self._services.clock()
        engaged = ledger.engage(self._ledger, request, level_playbook(typed, chosen), self._services.responder.mode,
                                now)
        if engaged.result == "engaged":
            self._wakeup.notify()
        log(logger, logging.WARNING, "kill switch", switch_level=level, by=by, surface=surface, result=engaged.result,
            run_id=engaged.engagement.run_id, profiles=len(chosen))
        return engaged

    def in_force(self) -> list[Engagement]:
        return ledger.in_force(self._ledger)

    def running(self, profile: str) -> list[Engagement]:
        return ledger.running(self._ledger, profile)

    def recent(self, limit: int = 20) -> list[Engagement]:
        return ledger.recent(self._ledger, limit)

    def rearmed(self, profile: str) -> list[Engagement]:
        """A profile was re-enabled (parity-checked): the engagements this completes are released."""
        released = ledger.rearmed(self._ledger, profile, self._services.clock())
        for engagement in released:
            log(logger, logging.INFO, "kill switch released", switch_level=engagement.level, engagement=engagement.id)
        return released
