"""Ledger tables (SQLite or PostgreSQL, one SQLAlchemy Core code path), created at start.

- ``responder_alerts``: one row per alert occurrence, keyed by (fingerprint, starts_at, status).
- ``responder_runs``: at most one playbook run per occurrence; ``current_position`` is the step due next.
- ``responder_steps``: the run's ordered steps, each claimed by a worker with a lease.
- ``responder_budget_locks`` / ``responder_budget_spend``: the blast-radius budget, counted transactionally.
- ``responder_rca_drafts``: RCA drafts written on resolve.
- ``responder_approvals``: each operator's decision on a step awaiting approval (one per operator and round).
- ``responder_slack_requests``: signatures of Slack interactions already handled (replays are refused).
- ``responder_operator_actions``: approvals, rejections and profile re-enables, with who and why.
- ``responder_kill_switch``: each engagement of a kill switch level, its run, and the profiles re-armed
  since (at most one unreleased engagement per level).
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from responder.states import RunState, StepState
from sources.botdata.timestamps import UTCDateTime

# The vocabulary lives in responder.states; these names are kept for the ledger's modules.
PENDING = StepState.PENDING
RUNNING = StepState.RUNNING
AWAITING_APPROVAL = StepState.AWAITING_APPROVAL
APPROVED = StepState.APPROVED
SUCCEEDED = StepState.SUCCEEDED
FAILED = StepState.FAILED
SKIPPED = StepState.SKIPPED
DRY_RUN = StepState.DRY_RUN
REJECTED = StepState.REJECTED
EXPIRED = StepState.EXPIRED
RETRY_WAIT = StepState.RETRY_WAIT

RUN_ACTIVE = RunState.ACTIVE
RUN_SUCCEEDED = RunState.SUCCEEDED
RUN_FAILED = RunState.FAILED
RUN_CANCELLED = RunState.CANCELLED

DEACTIVATION_BUDGET = "deactivate_profile"

metadata = MetaData()

alerts = Table(
    "responder_alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("fingerprint", String(64), nullable=False),
    Column("starts_at", UTCDateTime(), nullable=False),
    Column("status", String(16), nullable=False),
    Column("alertname", String(200), nullable=False),
    Column("ends_at", UTCDateTime(), nullable=True),
    Column("labels", Text, nullable=False),
    Column("annotations", Text, nullable=False),
    Column("generator_url", Text, nullable=False),
    Column("group_key", Text, nullable=False),
    Column("receiver", Text, nullable=False),
    Column("source", String(32), nullable=False),
    Column("disposition", String(32), nullable=False),
    Column("received_at", UTCDateTime(), nullable=False),
    # the sweeper first found this firing occurrence missing from Alertmanager's API (None: listed, or never
    # checked); an added column, see store.create_schema
    Column("absent_since", UTCDateTime(), nullable=True),
    UniqueConstraint("fingerprint", "starts_at", "status", name="responder_alerts_occurrence"),
    Index("responder_alerts_alertname", "alertname"),
)

runs = Table(
    "responder_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alert_id", Integer, ForeignKey("responder_alerts.id"), nullable=False),
    Column("playbook", String(220), nullable=False),
    Column("state", String(16), nullable=False),
    Column("mode", String(16), nullable=False),
    Column("current_position", Integer, nullable=False),
    Column("step_count", Integer, nullable=False),
    Column("failed", Boolean, nullable=False, default=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime(), nullable=True),
    UniqueConstraint("alert_id", name="responder_runs_one_per_occurrence"),
    Index("responder_runs_state", "state"),
)

steps = Table(
    "responder_steps",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("responder_runs.id"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("name", String(100), nullable=False),
    Column("action", String(100), nullable=False),
    Column("params", Text, nullable=False),
    Column("policy", String(16), nullable=False),
    Column("continue_on_failure", Boolean, nullable=False),
    Column("run_on_failure", Boolean, nullable=False),
    Column("state", String(24), nullable=False),
    Column("outcome", String(64), nullable=False, default=""),
    Column("attempts", Integer, nullable=False, default=0),
    Column("lease_owner", String(200), nullable=True),
    Column("lease_expires_at", UTCDateTime(), nullable=True),
    Column("approval_reason", String(32), nullable=True),
    Column("decision", String(16), nullable=True),
    Column("decided_by", String(200), nullable=True),
    Column("decision_reason", Text, nullable=True),
    Column("decided_at", UTCDateTime(), nullable=True),
    Column("before_state", Text, nullable=True),
    Column("after_state", Text, nullable=True),
    Column("output", Text, nullable=True),
    Column("error", Text, nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("started_at", UTCDateTime(), nullable=True),
    Column("finished_at", UTCDateTime(), nullable=True),
    # Added after the first release (nullable: `upgrade_schema` adds them to an existing ledger).
    Column("two_person", Boolean, nullable=True),
    Column("awaiting_since", UTCDateTime(), nullable=True),
    Column("approval_round", Integer, nullable=True),
    Column("approved_guard", Text, nullable=True),
    # transient failures: how many, when the next attempt is due, when retrying stops
    Column("retries", Integer, nullable=True, default=0),
    Column("retry_at", UTCDateTime(), nullable=True),
    Column("retry_deadline", UTCDateTime(), nullable=True),
    UniqueConstraint("run_id", "position", name="responder_steps_order"),
    Index("responder_steps_state", "state"),
)

budget_locks = Table(
    "responder_budget_locks",
    metadata,
    Column("budget", String(64), primary_key=True),
)

budget_spend = Table(
    "responder_budget_spend",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("budget", String(64), nullable=False),
    Column("step_id", Integer, ForeignKey("responder_steps.id"), nullable=False, unique=True),
    Column("spent_at", UTCDateTime(), nullable=False),
    Index("responder_budget_spend_window", "budget", "spent_at"),
)

rca_drafts = Table(
    "responder_rca_drafts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("fingerprint", String(64), nullable=False),
    Column("starts_at", UTCDateTime(), nullable=False),
    Column("alertname", String(200), nullable=False),
    Column("category", String(64), nullable=False),
    Column("markdown", Text, nullable=False),
    Column("path", Text, nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("fingerprint", "starts_at", name="responder_rca_one_per_incident"),
)

approvals = Table(
    "responder_approvals",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("step_id", Integer, ForeignKey("responder_steps.id"), nullable=False),
    Column("round", Integer, nullable=False),
    Column("by", String(200), nullable=False),
    Column("decision", String(16), nullable=False),
    Column("reason", Text, nullable=False),
    Column("surface", String(16), nullable=False),
    Column("evidence", Text, nullable=True),
    Column("at", UTCDateTime(), nullable=False),
    UniqueConstraint("step_id", "round", "by", name="responder_approvals_one_per_operator"),
)

slack_requests = Table(
    "responder_slack_requests",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("received_at", UTCDateTime(), nullable=False),
    Index("responder_slack_requests_age", "received_at"),
)

# Scheduled updates of an incident's notice (the "Next Update" the notify step promised): one row per
# update, claimed with a lease like a step, posted once, the next one scheduled when it is posted.
NOTICE_SCHEDULED = "scheduled"
NOTICE_POSTING = "posting"
NOTICE_POSTED = "posted"
NOTICE_CANCELLED = "cancelled"

notices = Table(
    "responder_notices",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("responder_runs.id"), nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("due_at", UTCDateTime(), nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("lease_owner", String(200), nullable=True),
    Column("lease_expires_at", UTCDateTime(), nullable=True),
    Column("outcome", String(64), nullable=False, default=""),
    Column("text", Text, nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("posted_at", UTCDateTime(), nullable=True),
    UniqueConstraint("run_id", "sequence", name="responder_notices_once"),
    Index("responder_notices_due", "state", "due_at"),
)

operator_actions = Table(
    "responder_operator_actions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("target", String(200), nullable=False),
    Column("by", String(200), nullable=False),
    Column("reason", Text, nullable=False),
    Column("result", String(32), nullable=False),
    Column("detail", Text, nullable=False),
)


# One row per engagement of a kill switch level; the partial unique index lets only one engagement of a
# level be in force at a time, so engaging twice (two clicks, two replicas) creates one run.
kill_switch = Table(
    "responder_kill_switch",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("level", String(32), nullable=False),
    Column("profiles", Text, nullable=False),  # JSON list: the trading units it covers, fixed at engagement
    Column("run_id", Integer, ForeignKey("responder_runs.id"), nullable=False),
    Column("engaged_by", String(200), nullable=False),
    Column("reason", Text, nullable=False),
    Column("surface", String(16), nullable=False),
    Column("engaged_at", UTCDateTime(), nullable=False),
    Column("rearmed", Text, nullable=False),  # JSON list: profiles re-enabled (parity-checked) since
    Column("released_at", UTCDateTime(), nullable=True),  # every profile re-armed
    Index(
        "responder_kill_switch_in_force",
        "level",
        unique=True,
        postgresql_where=text("released_at IS NULL"),
        sqlite_where=text("released_at IS NULL"),
    ),
)
