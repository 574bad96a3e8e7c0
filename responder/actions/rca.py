"""Draft the RCA on resolve: a timeline from the ledger and the root-cause category the evidence suggests.

The draft is stored in the ledger (one per alert instance: fingerprint + startsAt) and written as
markdown under ``rca_dir``. Ghost-position categories come from the firing run's evidence
(``suggested_category`` and ``category_reason``); auth categories from its diagnosis (``category`` and
``reason``). Which fields of which step are read is the step's params, checked against those steps' output
models when the playbooks are loaded.
"""

from __future__ import annotations

import json
import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from common.db import write_transaction
from responder.actions.context import ActionContext
from responder.actions.registry import SUCCEEDED, ActionSpec, Input, Outcome, Params, StepOutput
from responder.ledger import queries
from responder.ledger.schema import rca_drafts
from responder.ledger.store import insert_ignoring_conflicts
from responder.notifier import make_templates, severity_name

GHOST_CATEGORIES = ("exchange timeout", "rejected exit", "stale local state")
AUTH_CATEGORIES = ("config", "infra", "app regression")


class RcaParams(Params):
    evidence_step: str = "evidence"
    category_from: str = "evidence"
    category_key: str = "suggested_category"
    reason_key: str = "category_reason"
    profile_label: str = "profile"

    def inputs(self) -> tuple[Input, ...]:
        return (Input(self.category_from, self.category_key), Input(self.category_from, self.reason_key))


class RcaDraft(StepOutput):
    category: str
    reason: str
    path: str = ""


def _timeline(ctx: ActionContext) -> list[tuple[datetime, str]]:
    alert = ctx.alert
    events: list[tuple[datetime, str]] = [(alert.starts_at, f"{alert.alertname} started firing (Prometheus)")]
    for occurrence in queries.incident_occurrences(ctx.services.ledger_engine, alert.fingerprint, alert.starts_at):
        events.append((occurrence.received_at, f"{occurrence.status} notification recorded by the responder"))
        if occurrence.ends_at:
            events.append((occurrence.ends_at, "alert resolved (Alertmanager endsAt)"))
    for occurrence, step in queries.incident_steps(ctx.services.ledger_engine, alert.fingerprint, alert.starts_at):
        if step.finished_at and step.id != ctx.step_id:
            detail = f" ({step.outcome})" if step.outcome else ""
            error = f": {step.error}" if step.error else ""
            event = f"{occurrence.status} run: step {step.name} [{step.action}] {step.state}{detail}{error}"
            events.append((step.finished_at, event.replace("|", "/").replace("\n", " ")))
    return sorted(events, key=lambda item: item[0])


def _firing_output(ctx: ActionContext, step_name: str) -> StepOutput | None:
    """The typed output of the named step of the firing run, if it succeeded."""
    alert = ctx.alert
    step = queries.firing_step(ctx.services.ledger_engine, alert.fingerprint, alert.starts_at, step_name)
    return None if step is None else ctx.services.registry.read_output(step.action, step.output)


def _category(ctx: ActionContext, params: RcaParams) -> tuple[str, str, StepOutput | None]:
    evidence = _firing_output(ctx, params.evidence_step)
    source = evidence
    if params.category_from != params.evidence_step:
        source = _firing_output(ctx, params.category_from)
    category = getattr(source, params.category_key, None)
    if not isinstance(category, str) or not category:
        return "undetermined", "no evidence was captured while the alert fired", evidence
    reason = getattr(source, params.reason_key, None)
    return category, reason if isinstance(reason, str) else "", evidence


def draft_rca(ctx: ActionContext, params: RcaParams) -> Outcome:
    alert = ctx.alert
    category, reason, evidence = _category(ctx, params)
    profile = ctx.label(params.profile_label)
    markdown = make_templates(finalize=None).get_template("rca.md.j2").render(
        alertname=alert.alertname,
        scope=[(k, v) for k, v in sorted(alert.labels.items()) if k in ("account", "channel", "profile", "symbol")],
        fingerprint=alert.fingerprint,
        severity=severity_name(alert.labels.get("severity")),
        started=alert.starts_at,
        ended=alert.ends_at,
        category=category,
        reason=reason,
        profile=profile,
        profile_status=_entries_value(ctx, profile) if profile else None,
        timeline=_timeline(ctx),
        evidence=json.dumps(evidence.stored() if evidence else None, indent=2, sort_keys=True, default=str),
        categories=GHOST_CATEGORIES if alert.alertname == "GhostPosition" else AUTH_CATEGORIES,
    )
    path = _path(ctx)
    stored = _store(ctx, category, markdown, path)
    if path is not None:
        _write(path, stored)
    summary = f"RCA drafted: suggested category {category}" + (f" ({path})" if path else "")
    return Outcome(SUCCEEDED, "drafted", RcaDraft(category=category, reason=reason, path=str(path or ""),
                                                  summary=summary))


def _entries_value(ctx: ActionContext, profile_id: str) -> str | None:
    """The profile's entries state as read back now (e.g. inactive), for the RCA draft."""
    profile = ctx.services.bot.profile(profile_id)
    return profile.entries.value or profile.entries.state if profile else None


def _path(ctx: ActionContext) -> Path | None:
    directory = ctx.services.responder.rca_dir
    if directory is None:
        return None
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{ctx.alert.alertname}-{ctx.alert.fingerprint}")
    return directory / f"{ctx.alert.starts_at:%Y%m%dT%H%M%SZ}-{safe}.md"


def _store(ctx: ActionContext, category: str, markdown: str, path: Path | None) -> str:
    """Insert the draft once per alert instance; return the stored markdown (the first draft wins)."""
    alert = ctx.alert
    with write_transaction(ctx.services.ledger_engine) as conn:
        conn.execute(
            insert_ignoring_conflicts(conn, rca_drafts).values(
                fingerprint=alert.fingerprint,
                starts_at=alert.starts_at,
                alertname=alert.alertname,
                category=category,
                markdown=markdown,
                path=str(path) if path else None,
                created_at=ctx.now(),
            )
        )
        stored: str = conn.execute(
            select(rca_drafts.c.markdown).where(
                rca_drafts.c.fingerprint == alert.fingerprint, rca_drafts.c.starts_at == alert.starts_at
            )
        ).scalar_one()
    return stored


def _write(path: Path, markdown: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".tmp{os.getpid()}")
    partial.write_text(markdown, encoding="utf-8")
    os.replace(partial, path)


SPECS: tuple[ActionSpec[Any], ...] = (
    ActionSpec("draft_rca", RcaParams, draft_rca, "observe", "draft the RCA (ledger + markdown under rca_dir)",
               output=RcaDraft),
)
