"""Keep the Next Update a notice promised: post each scheduled update when it is due while the incident is
open — what changed since the last notice, or "no change" — and promise the next one.

Executor threads call `post_due_update` when no step is due; the ledger's claim (compare-and-set and a
lease, `responder.ledger.notices`) makes one replica post each update once. A failed post is recorded
(``failed``) and the next update is still scheduled: the promise goes on while the incident is open.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Engine

from responder.actions.context import Services
from responder.actions.registry import Registry
from responder.ledger import notices
from responder.ledger.records import StepRecord
from responder.logs import log
from responder.notice import describe_step, incident_notice

logger = logging.getLogger(__name__)
TEMPLATE = "incident.txt.j2"


def changes_since(steps: Sequence[StepRecord], since: datetime, registry: Registry) -> list[str]:
    """The steps that started or finished since the last notice, as people read them."""
    changed = []
    for step in steps:
        moments = [moment for moment in (step.started_at, step.finished_at) if moment is not None]
        if step.action != "notify" and moments and max(moments) > since:
            changed.append(f"{step.name}: {describe_step(step, registry)}")
    return changed


def post_due_update(engine: Engine, services: Services, owner: str, lease_seconds: float) -> bool:
    """Post one due update, if any; True when one was handled (posted, failed to post, or lost to a replica)."""
    now = services.clock()
    claim = notices.claim_due(engine, owner, now, lease_seconds)
    if claim is None:
        return False
    notifier = services.notifier
    next_due = now + notifier.update_interval
    notice = dataclasses.replace(
        incident_notice(claim.alert, claim.run.id, claim.steps, services.registry),
        kind="update",
        sequence=claim.sequence,
        changes=changes_since(claim.steps, claim.since, services.registry),
        next_update=next_due,
    )
    text = notifier.render(TEMPLATE, now, **notice.context())
    sent = notifier.send(text)
    recorded = notices.record_posted(engine, claim, sent.outcome, text, next_due, services.clock())
    log(logger, logging.INFO if sent.outcome == "sent" else logging.WARNING, "incident update", run_id=claim.run.id,
        sequence=claim.sequence, outcome=sent.outcome, late_seconds=round((now - claim.due_at).total_seconds(), 1),
        recorded=recorded)
    return True
