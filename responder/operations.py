"""The operators' workflows, in one place: the API, the console, Slack and the CLI all come through here.

- `queue` and `evidence`: what waits for a person, with what each step would do computed from the
  current state (the action's ``preview``);
- `decide`: approve or reject, recorded with operator, reason, surface and the evidence shown; a
  rejection needs a reason; a two-person step needs two different operators; the decision is one
  compare-and-set transaction;
- `enable_profile`: re-arm a profile (resume its entries, as the bot database mapping says) only once
  position parity holds at the broker, recorded before (``requested``) and after (the result) in the ledger;
  a re-armed profile counts toward releasing the kill switch engagements covering it;
- `engage_kill_switch`: engage a kill switch level (`responder.killswitch`), recorded with who and why.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from common.db import write_transaction
from responder.action_calls import describe
from responder.actions.context import ActionContext, ActionError, Services
from responder.actions.registry import UnknownAction
from responder.evidence import Evidence
from responder.killswitch import KillSwitch, Refused
from responder.ledger import approvals, queries
from responder.ledger.killswitch import Engaged
from responder.ledger.records import AlertRecord, StepRecord
from responder.ledger.schema import operator_actions
from responder.ledger.store import dumps
from responder.logs import log
from responder.metrics import ResponderMetrics
from responder.parity import Parity
from responder.states import Decision, StepState
from responder.wakeup import Wakeup
from sources.broker import BrokerError
from sources.hooks import HookError

logger = logging.getLogger(__name__)
Surface = Literal["api", "console", "slack", "cli", "playbook"]


@dataclass(frozen=True)
class Waiting:
    """A step awaiting approval, with what it would do now and the decisions given so far."""

    step: StepRecord
    alert: AlertRecord
    does: str
    evidence: Evidence
    decisions: tuple[approvals.Approval, ...] = ()

    @property
    def approvers(self) -> tuple[str, ...]:
        return tuple(
            a.by for a in self.decisions if a.round == self.step.approval_round and a.decision == Decision.APPROVE
        )

    @property
    def needed(self) -> int:
        return (2 if self.step.two_person else 1) - len(self.approvers)


EnableResult = Literal["not_found", "unchanged", "broker_unreadable", "refused", "kill_switch_running",
                       "ledger_unavailable", "no_effect", "enabled"]


@dataclass(frozen=True)
class Enabled:
    result: EnableResult
    profile: str
    status: str | None = None
    parity: Parity | None = None
    detail: dict[str, Any] = field(default_factory=dict)


class Operations:
    def __init__(self, ledger: Engine, services: Services, wakeup: Wakeup, metrics: ResponderMetrics) -> None:
        self._ledger = ledger
        self._services = services
        self._wakeup = wakeup
        self._metrics = metrics
        self.kill_switch = KillSwitch(ledger, services, wakeup)

    def evidence(self, step_id: int) -> Evidence | None:
        """What the step would do now (None when there is no such step)."""
        found = queries.step_context(self._ledger, step_id)
        return None if found is None else self._preview(found)

    def _preview(self, found: queries.StepContext) -> Evidence:
        registry = self._services.registry
        step = found.step
        try:
            spec = registry.get(step.action)
            params = spec.params.model_validate(step.params)
        except (UnknownAction, ValueError) as exc:
            return Evidence(f"invalid step: {describe(exc)}", available=False)
        if spec.preview is None:
            return Evidence(registry.read_output(step.action, step.output).summary or spec.summary)
        ctx = ActionContext(self._services, found.alert, found.run.id, step.id, found.history, found.later)
        try:
            return spec.preview(ctx, params)
        except (BrokerError, ActionError, SQLAlchemyError) as exc:
            return Evidence(f"evidence unavailable: {describe(exc)}", available=False)

    def queue(self) -> list[Waiting]:
        """Every step awaiting approval, oldest first, with its evidence computed now."""
        waiting = queries.awaiting_approval(self._ledger)
        given = approvals.decisions(self._ledger, [step.id for step, _ in waiting])
        registry = self._services.registry
        items = []
        for step, alert in waiting:
            found = queries.step_context(self._ledger, step.id)
            if found is None:
                continue
            does = registry.get(step.action).summary if step.action in registry else step.action
            items.append(Waiting(step, alert, does, self._preview(found), tuple(given[step.id])))
        return items

    def decide(
        self, step_id: int, by: str, decision: Decision, reason: str, surface: Surface
    ) -> approvals.Outcome | Literal["evidence_unavailable", "reason_required"]:
        """Record a decision; a rejection needs a reason, an approval needs the step's evidence (what it would
        do now) to be readable."""
        if decision == Decision.REJECT and not reason.strip():
            return "reason_required"
        found = queries.step_context(self._ledger, step_id)
        if found is None:
            return approvals.Outcome("not_found")
        if found.step.state != StepState.AWAITING_APPROVAL:
            return approvals.Outcome("not_waiting", found.step)
        evidence = self._preview(found)
        if decision == Decision.APPROVE and not evidence.available:
            return "evidence_unavailable"
        request = approvals.DecisionRequest(step_id, by, decision, reason, surface, evidence)
        outcome = approvals.decide(self._ledger, request, self._services.clock())
        if outcome.result == "approved":
            self._wakeup.notify()
        elif outcome.result == "rejected" and outcome.step is not None:
            self._metrics.steps.labels(outcome.step.action, StepState.REJECTED).inc()
        log(logger, logging.INFO, "step decision", step_id=step_id, decision=str(decision), by=by,
            surface=surface, result=outcome.result)
        return outcome

    def enable_profile(self, profile_id: str, by: str, reason: str, surface: Surface) -> Enabled:
        """Re-arm a profile (resume its new entries, as the mapping says) once the bot's and the broker's
        positions match on every account it trades through."""
        bot = self._services.bot
        profile = bot.profile(profile_id)
        if profile is None:
            return Enabled("not_found", profile_id)
        status = profile.entries.value
        if profile.entries.state == "enabled" and not self._awaits_rearm(profile_id):
            return Enabled("unchanged", profile_id, status)
        running = self._kill_switch_running(profile_id)
        if running:
            busy: dict[str, Any] = {"kill_switch_runs": running}
            self._audit(profile_id, by, reason, surface, "kill_switch_running", busy)
            return Enabled("kill_switch_running", profile_id, status, detail=busy)
        try:
            parities = [self._services.parity(a) for a in profile.accounts]
        except (BrokerError, ActionError) as exc:
            detail = {"error": str(exc)[:300]}
            self._audit(profile_id, by, reason, surface, "broker_unreadable", detail)
            return Enabled("broker_unreadable", profile_id, status, detail=detail)
        parity = next((p for p in parities if not p.ok), parities[0] if parities else None)
        detail = _parity_detail(parities)
        if parity is None or not parity.ok:
            self._audit(profile_id, by, reason, surface, "refused", detail)
            return Enabled("refused", profile_id, status, parity, detail)
        if not self._audit(profile_id, by, reason, surface, "requested", detail):
            return Enabled("ledger_unavailable", profile_id, status, parity)
        try:
            change = bot.resume_entries(profile_id, self._services.clock())
        except HookError as exc:
            failed = {**detail, "error": str(exc)[:300]}
            self._audit(profile_id, by, reason, surface, "no_effect", failed)
            return Enabled("no_effect", profile_id, status, parity, failed)
        resumed = change.entries.state == "enabled"
        result: EnableResult = "no_effect" if not resumed else ("enabled" if change.changed else "unchanged")
        self._audit(profile_id, by, reason, surface, result, detail)
        if resumed:
            self._rearmed(profile_id)
        log(logger, logging.INFO, "profile re-enable", profile=profile_id, by=by, surface=surface, result=result)
        return Enabled(result, profile_id, change.entries.value, parity)

    def _awaits_rearm(self, profile_id: str) -> bool:
        """A kill switch in force covers the profile: even an already enabled one is re-armed parity-checked."""
        try:
            return any(profile_id in e.waiting_rearm for e in self.kill_switch.in_force())
        except SQLAlchemyError:
            return False

    def _kill_switch_running(self, profile_id: str) -> list[int]:
        """The runs of kill switch levels covering the profile that are still acting or waiting for people."""
        try:
            return [e.run_id for e in self.kill_switch.running(profile_id)]
        except SQLAlchemyError:
            return []

    def _rearmed(self, profile_id: str) -> None:
        try:
            self.kill_switch.rearmed(profile_id)
        except SQLAlchemyError:
            log(logger, logging.WARNING, "could not record the re-arm on the kill switch", profile=profile_id)

    def engage_kill_switch(
        self, level: str, profiles: list[str] | None, by: str, reason: str, surface: Surface
    ) -> Engaged | Refused:
        """Engage a kill switch level (every profile when `profiles` is empty), recorded with who and why."""
        engaged = self.kill_switch.engage(level, profiles, by, reason, surface)
        result = engaged.result
        detail: dict[str, Any] = {"detail": engaged.detail} if isinstance(engaged, Refused) else {
            "run_id": engaged.engagement.run_id, "profiles": list(engaged.engagement.profiles)}
        self._record("kill_switch", f"kill_switch:{level[:32]}", by, reason, result, {**detail, "surface": surface})
        return engaged

    def _audit(self, profile_id: str, by: str, reason: str, surface: Surface, result: str,
               detail: dict[str, Any]) -> bool:
        """Record an operator action on a profile; False (logged) when the ledger cannot be written."""
        return self._record("enable_profile", f"profile:{profile_id}", by, reason, result,
                            {**detail, "surface": surface})

    def _record(self, kind: str, target: str, by: str, reason: str, result: str, detail: dict[str, Any]) -> bool:
        try:
            with write_transaction(self._ledger) as conn:
                conn.execute(
                    operator_actions.insert().values(
                        at=self._services.clock(), kind=kind, target=target, by=by, reason=reason, result=result,
                        detail=dumps(detail),
                    )
                )
        except SQLAlchemyError:
            log(logger, logging.WARNING, "could not record the operator action", target=target, result=result)
            return False
        return True


def _parity_detail(parities: list[Parity]) -> dict[str, Any]:
    """One account's parity as it always was; several accounts' as a list (none: the profile reaches none)."""
    if len(parities) == 1:
        return parities[0].as_dict()
    return {"accounts": [p.as_dict() for p in parities], "mismatches": [m for p in parities for m in p.mismatches]}
