"""Calling an action's hooks: transient failures to retry, any other exception a failed outcome."""

from __future__ import annotations

from typing import Any

from responder.actions.context import ActionContext
from responder.actions.registry import Outcome
from responder.actions.transient import TransientError, as_transient
from responder.ledger.steps import StepEnd

MAX_ERROR = 2000


def step_end(outcome: Outcome) -> StepEnd:
    return StepEnd(outcome.result, outcome.detail, outcome.output.stored(), outcome.after, outcome.error)



def guarded(function: Any, ctx: ActionContext, params: Any) -> Any:
    """Call an action hook; a transient failure (no answer from the target) is returned as a TransientError to
    retry, any other exception becomes a failed Outcome (type and first line of the message)."""
    try:
        return function(ctx, params)
    except Exception as exc:
        transient = as_transient(exc)
        return transient if transient is not None else Outcome.failed(describe(exc))


def describe(exc: BaseException) -> str:
    """``Type: first line`` (a database error's driver message, without the SQL and its parameters)."""
    if isinstance(exc, TransientError):
        return str(exc)[:MAX_ERROR]
    origin = getattr(exc, "orig", None)
    lines = str(origin if origin is not None else exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"[:MAX_ERROR]
