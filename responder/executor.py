"""Executor threads: claim due steps from the ledger with leases and run their actions.

For each claimed step, in order: the policy (``off`` -> skipped), the action's read-only precheck
(may end the step as not needed), the mode (dry-run records side-effecting steps as ``dry_run``), the
approval gate (``approval`` -> parked until an operator decides), the blast-radius budget (exhausted ->
parked with reason ``budget_exhausted``, metric + notification), then the before-state is committed,
the action runs while a keeper renews the lease, and the outcome and after-state are committed.
A worker that crashes leaves a ``running`` step whose lease expires; another worker re-claims it and
the idempotent action sees the done state ("unchanged").
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from responder import approval_notices as notices
from responder.action_calls import MAX_ERROR, describe, guarded, step_end
from responder.actions.context import ActionContext, Services
from responder.actions.registry import ActionSpec, DryRunOutput, Outcome, ParkedOutput, UnknownAction
from responder.actions.transient import TransientError
from responder.evidence import Evidence, guard_difference
from responder.executor_settings import DRY_RUN_MODE, ExecutorSettings
from responder.lease import LeaseKeeper
from responder.ledger import approvals, budget, queries, steps
from responder.ledger.steps import Claim, StepEnd
from responder.logs import log
from responder.metrics import ResponderMetrics
from responder.states import WAIT_BUDGET, WAIT_CHANGED, WAIT_POLICY, StepState
from responder.updates import post_due_update
from responder.wakeup import INGEST_YIELD_SECONDS, Wakeup

logger = logging.getLogger(__name__)
# How long a worker keeps trying to record a step's transition through a ledger outage (a database restart)
# before it gives up and leaves the step to be re-claimed when its lease expires.
RECORD_RETRY_SECONDS = 120.0


class Executor:
    def __init__(
        self,
        engine: Engine,
        services: Services,
        settings: ExecutorSettings,
        metrics: ResponderMetrics,
        wakeup: Wakeup,
    ) -> None:
        self._engine = engine
        self._services = services
        self._settings = settings
        self._metrics = metrics
        self._wakeup = wakeup
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self.owner = f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def start(self, count: int) -> None:
        """Start `count` worker threads (none in mode ``off``: alerts are recorded, nothing runs)."""
        if self._settings.mode == "off":
            return
        for index in range(count):
            thread = threading.Thread(target=self._loop, args=(f"{self.owner}:{index}",), daemon=True)
            thread.name = f"responder-executor-{index}"
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._wakeup.notify()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _loop(self, owner: str) -> None:
        delay = self._settings.poll_seconds
        while not self._stopping.is_set():
            self._wakeup.yield_to_deliveries(INGEST_YIELD_SECONDS)
            seen = self._wakeup.generation()
            try:
                worked = self.run_once(owner)
                delay = self._settings.poll_seconds
            except SQLAlchemyError as exc:
                log(logger, logging.WARNING, "ledger unavailable; backing off", error=type(exc).__name__)
                worked, delay = False, min(delay * 2, 10.0)
            except Exception:
                logger.exception("executor iteration failed")
                worked = False
            if not worked:
                self._wakeup.wait(seen, delay)

    def run_once(self, owner: str | None = None) -> bool:
        """Claim and process one due step, else post one due incident update; False when nothing was due."""
        owner = owner or f"{self.owner}:once"
        self.expire_approvals()
        now = self._services.clock()
        for due in steps.find_due(self._engine, now):
            claimed = steps.claim(self._engine, due, owner, self._services.clock(), self._settings.lease_seconds)
            if claimed is None:
                continue
            if isinstance(claimed, steps.Cancelled):
                for action in claimed.actions:
                    self._metrics.steps.labels(action, StepState.SKIPPED).inc()
                log(logger, logging.INFO, "run cancelled: alert already resolved", step_id=due.step_id)
                return True
            self.process(claimed)
            return True
        return post_due_update(self._engine, self._services, owner, self._settings.lease_seconds)

    def expire_approvals(self) -> int:
        """End approvals nobody gave in time (``expired``) and tell people, once per step, whoever sweeps."""
        timeout = self._settings.approval_timeout_seconds
        ended = approvals.expire(self._engine, self._services.clock(), timeout)
        for step in ended:
            self._metrics.steps.labels(step.action, StepState.EXPIRED).inc()
            found = queries.step_context(self._engine, step.id)
            notices.expired(self._services.notifier, step, found.alert.alertname if found else "?", timeout)
        if ended:
            self._wakeup.notify()
        return len(ended)

    def process(self, claim: Claim) -> None:
        step = claim.step
        try:
            spec = self._services.registry.get(step.action)
            params = spec.params.model_validate(step.params)
        except (UnknownAction, ValueError) as exc:
            self._finish(claim, StepEnd(StepState.FAILED, "invalid_step", error=describe(exc)))
            return
        ctx = ActionContext(self._services, claim.alert, claim.run.id, step.id, claim.history, claim.later)
        if claim.run.failed and not step.run_on_failure:
            self._finish(claim, StepEnd(StepState.SKIPPED, "run_failed"))
            return
        if step.policy == "off":
            self._finish(claim, StepEnd(StepState.SKIPPED, "policy_off"))
            return
        if spec.precheck is not None:
            early = guarded(spec.precheck, ctx, params)
            if isinstance(early, TransientError):
                self._retry(claim, early)
                return
            if early is not None:
                self._finish(claim, step_end(early))
                return
        if DRY_RUN_MODE in (self._settings.mode, claim.run.mode) and spec.effect == "mutate":
            output = DryRunOutput(params=step.params, summary=f"dry run: would run {spec.name}")
            self._finish(claim, StepEnd(StepState.DRY_RUN, "would_run", output.stored()))
            return
        if claim.approved and self._changed_since_approval(claim, spec, ctx, params):
            return
        if step.policy == "approval" and not claim.approved:
            self._park(claim, WAIT_POLICY, ctx=ctx, spec=spec, params=params)
            return
        try:
            if spec.budget is not None and not self._spend(claim, spec.budget):
                exhausted = self._report_budget(ctx, claim, spec.budget)
                self._park(claim, WAIT_BUDGET, exhausted, ctx, spec, params)
                return
        except budget.LeaseLost:
            log(logger, logging.WARNING, "lease lost before spending the budget", step_id=step.id)
            return
        self._execute(claim, spec, ctx, params)

    def _execute(self, claim: Claim, spec: ActionSpec[Any], ctx: ActionContext, params: Any) -> None:
        before = guarded(spec.snapshot, ctx, params) if spec.snapshot else None
        if isinstance(before, TransientError):
            self._retry(claim, before)
            return
        if isinstance(before, Outcome):  # the snapshot itself failed
            self._finish(claim, step_end(before))
            return
        def record() -> bool:
            now = self._services.clock()
            return steps.record_before(self._engine, claim.lease, before, now, self._settings.lease_seconds)

        if not self._durably(record, claim.step.id):
            log(logger, logging.WARNING, "lease lost before the action ran", step_id=claim.step.id)
            return
        started = time.monotonic()
        with LeaseKeeper(self._engine, claim.lease, self._settings.lease_seconds, self._services.clock):
            outcome = guarded(spec.run, ctx, params)
        if isinstance(outcome, TransientError):
            self._retry(claim, outcome)
            return
        self._finish(claim, step_end(outcome), time.monotonic() - started)

    def _finish(self, claim: Claim, end: StepEnd, duration: float | None = None) -> None:
        action = claim.step.action

        def record() -> bool:
            return steps.finish(self._engine, claim.lease, end, self._services.clock())

        if not self._durably(record, claim.step.id):
            log(logger, logging.WARNING, "lease lost; outcome not recorded", step_id=claim.step.id, action=action)
            return
        self._metrics.steps.labels(action, end.state).inc()
        if duration is not None:
            self._metrics.step_duration.labels(action).observe(duration)
        fields = {"step_id": claim.step.id, "run_id": claim.run.id, "action": action, "attempt": claim.lease.attempts}
        level = logging.WARNING if end.state == StepState.FAILED else logging.INFO
        log(logger, level, f"step {end.state}", outcome=end.outcome, error=end.error, **fields)
        self._wakeup.notify()  # the run's next step is due now

    def _retry(self, claim: Claim, failure: TransientError) -> None:
        """Hold a pending retry in the ledger (backoff, bounded by retry.max_seconds from the first failure),
        or fail the step once that time is up."""
        step, now = claim.step, self._services.clock()
        deadline = step.retry_deadline or now + timedelta(seconds=self._settings.retry.max_seconds)
        at = now + timedelta(seconds=self._settings.backoff(step.retries))
        error = describe(failure)
        self._metrics.retries.labels(step.action, failure.kind).inc()
        if at > deadline:
            spent = (now - (deadline - timedelta(seconds=self._settings.retry.max_seconds))).total_seconds()
            note = f"{error} (gave up after {step.retries + 1} attempts over {spent:.0f} s)"
            end = StepEnd(StepState.FAILED, "retries_exhausted", failure.output, error=note[:MAX_ERROR])
            self._finish(claim, end)
            return
        retry = steps.RetryLater(at, deadline, failure.kind, error, failure.output)
        if self._durably(lambda: steps.retry_later(self._engine, claim.lease, retry), step.id):
            log(logger, logging.WARNING, "transient failure; step will be retried", step_id=step.id,
                action=step.action, kind=failure.kind, retry_at=at.isoformat(), retries=step.retries + 1)

    def _changed_since_approval(self, claim: Claim, spec: ActionSpec[Any], ctx: ActionContext, params: Any) -> bool:
        """Right before an approved step runs: does what it would act on still match what was approved?

        When not, the step refuses to run and waits for a new approval, showing the difference.
        """
        if spec.preview is None or claim.step.approved_guard is None:
            return False
        now = notices.evidence_now(ctx, spec, params, "")
        difference = guard_difference(claim.step.approved_guard, now.guard)
        if not difference:
            return False
        summary = "refused to run: the state changed since the approval (" + "; ".join(difference) + ")"
        output = ParkedOutput(summary=summary, difference=difference, approved_by=claim.step.decided_by)
        log(logger, logging.WARNING, "approved step refused: state changed", step_id=claim.step.id)
        self._park(claim, WAIT_CHANGED, output, ctx, spec, params)
        return True

    def _park(
        self,
        claim: Claim,
        reason: str,
        output: ParkedOutput | None = None,
        ctx: ActionContext | None = None,
        spec: ActionSpec[Any] | None = None,
        params: Any = None,
    ) -> None:
        def park() -> bool:
            stored = None if output is None else output.stored()
            return steps.await_approval(self._engine, claim.lease, reason, self._services.clock(), stored)

        if not self._durably(park, claim.step.id):
            return
        log(logger, logging.INFO, "step awaits approval", step_id=claim.step.id, reason=reason)
        if ctx is not None and spec is not None:
            fallback = output.summary if output is not None else ""
            evidence = notices.evidence_now(ctx, spec, params, fallback)
            if reason == WAIT_CHANGED:
                evidence = Evidence(f"{fallback}. Now: {evidence.summary}", evidence.rows, evidence.guard)
            round_ = claim.step.approval_round + 1
            notices.request_approval(self._services.notifier, ctx, claim.step, evidence, round_,
                                     self._settings.console_url)

    def _durably(self, write: Callable[[], bool], step_id: int) -> bool:
        """Run a compare-and-set write of a held step, retrying while the ledger is unavailable.

        Once an action ran, its outcome must reach the ledger: left `running`, the step would be re-claimed
        after its lease and the action run again. The write still only applies while this worker holds the
        lease (it returns False once another worker has re-claimed the step).
        """
        delay, deadline = self._settings.poll_seconds, time.monotonic() + RECORD_RETRY_SECONDS
        while True:
            try:
                return write()
            except SQLAlchemyError as exc:
                if self._stopping.is_set() or time.monotonic() > deadline:
                    raise
                log(logger, logging.WARNING, "ledger unavailable; retrying the step's record", step_id=step_id,
                    error=type(exc).__name__)
            self._stopping.wait(delay)
            delay = min(delay * 2, 1.0)

    def _spend(self, claim: Claim, name: str) -> bool:
        s = self._settings
        now = self._services.clock()
        return budget.try_spend(
            self._engine, claim.lease, name, s.max_deactivations, s.window_seconds, now, force=claim.approved
        )

    def _report_budget(self, ctx: ActionContext, claim: Claim, name: str) -> ParkedOutput:
        """Count and announce an exhausted budget; the notification's outcome goes into the step's output."""
        self._metrics.budget_exhausted.labels(name).inc()
        s = self._settings
        sent = notices.budget_exhausted(
            self._services.notifier, self._services.clock(), claim, name, s.max_deactivations, s.window_seconds
        )
        log(logger, logging.WARNING, "blast-radius budget exhausted", budget=name, notification=sent.outcome)
        return ParkedOutput(summary=f"budget {name} exhausted; awaiting an operator", notification=sent.outcome)

