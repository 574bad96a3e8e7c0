"""Slack Block Kit messages for approvals: the request (evidence + Approve / Reject buttons + a reason
input) and what replaces it once decided. Every value shown is Slack-escaped."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    SectionBlock,
)

from responder.evidence import Evidence
from responder.notifier import severity_name, slack_escape

APPROVE, REJECT, REASON = "approve", "reject", "reason"
MAX_ROWS = 10


def _md(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=text[:2900])


def _rows(evidence: Evidence) -> str:
    if not evidence.rows:
        return ""
    columns = list(dict.fromkeys(key for row in evidence.rows for key in row))
    lines = [" | ".join(columns)]
    lines += [" | ".join(str(row.get(c, "")) for c in columns) for row in evidence.rows[:MAX_ROWS]]
    if len(evidence.rows) > MAX_ROWS:
        lines.append(f"... and {len(evidence.rows) - MAX_ROWS} more")
    return "```" + slack_escape("\n".join(lines)) + "```"


def button_value(step_id: int, round_: int) -> str:
    return f"{step_id}:{round_}"


def approval_request(
    step_id: int,
    round_: int,
    step_name: str,
    alert: Any,
    evidence: Evidence,
    two_person: bool,
    console_url: str | None,
) -> tuple[str, list[dict[str, Any]]]:
    """The fallback text and the blocks of an approval request for one waiting step."""
    title = f"Approval needed: {alert.alertname} ({severity_name(alert.labels.get('severity'))})"
    scope = ", ".join(f"{k} {v}" for k, v in sorted(alert.labels.items()) if k in ("profile", "account", "symbol"))
    blocks: list[Block] = [
        SectionBlock(text=_md(f"*{slack_escape(title)}*" + (f"\n{slack_escape(scope)}" if scope else ""))),
        SectionBlock(text=_md(f"Step `{slack_escape(step_name)}` (#{step_id}) will: {slack_escape(evidence.summary)}")),
    ]
    table = _rows(evidence)
    if table:
        blocks.append(SectionBlock(text=_md(table)))
    notes = ["two different operators must approve"] if two_person else []
    if console_url:
        notes.append(f"<{slack_escape(console_url)}|open the console>")
    if notes:
        blocks.append(ContextBlock(elements=[_md(" · ".join(notes))]))
    blocks += _decision_inputs(step_id, round_)
    return title, [block.to_dict() for block in blocks]


def _decision_inputs(step_id: int, round_: int) -> list[Block]:
    value = button_value(step_id, round_)
    return [
        InputBlock(block_id=REASON, label="Reason (required to reject)", optional=True,
                   element=PlainTextInputElement(action_id=REASON, max_length=2000)),
        ActionsBlock(
            block_id=f"decide-{step_id}",
            elements=[
                ButtonElement(text="Approve", action_id=APPROVE, value=value, style="primary"),
                ButtonElement(text="Reject", action_id=REJECT, value=value, style="danger"),
            ],
        ),
    ]


def decided(original: Sequence[dict[str, Any]], line: str, still_open: bool) -> list[dict[str, Any]]:
    """The request's evidence blocks, the decision line, and the buttons again only while more is needed."""
    kept = [b for b in original if b.get("type") == "section"]
    status = SectionBlock(text=_md(slack_escape(line))).to_dict()
    tail = [b for b in original if b.get("type") in ("input", "actions")] if still_open else []
    return [*kept, status, *tail]
