"""Calling the bot's reconcile/restart hooks from an action, recorded like any action.

The step's output says what ran (the hook's URL or argv, never its secrets), how long it took, its exit code
or HTTP status and its truncated output. A transient failure (timed out, no connection, 5xx, 429: whether it
took effect is unknown) is retried by the executor for ``responder.retry.max_seconds``; a definite one (a
non-zero exit, a 4xx) fails the step at once.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any, Literal

from responder.actions.context import ActionContext
from responder.actions.registry import FAILED, SKIPPED, SUCCEEDED, Outcome, StepOutput
from responder.actions.transient import TransientError
from sources.hooks import HookError, HookUnavailable


class HookOutput(StepOutput):
    """What ran (the hook's URL or argv, never its secrets) and how it ended; absent facts are not stored."""

    hook: str | None = None
    kind: str | None = None
    argv: list[str] | None = None
    method: str | None = None
    url: str | None = None
    timeout_seconds: float | None = None
    seconds: float | None = None
    output: str | None = None
    exit_code: int | None = None
    http_status: int | None = None
    response: dict[str, Any] | None = None
    failure: Literal["transient", "definite"] | None = None

    def stored(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


def call_bot_hook(ctx: ActionContext, name: str, context: Mapping[str, str | None], done: str) -> Outcome:
    """Run hook `name` once; skipped when it is not configured, failed (with its kind) when it did not succeed."""
    spec = ctx.services.hooks.get(name)
    if spec is None:
        return Outcome(SKIPPED, "not_configured", HookOutput(summary=f"bot.hooks.{name} is not configured"))
    try:
        result = ctx.services.run_hook(name, context)
    except HookError as exc:
        transient = isinstance(exc, HookUnavailable)
        ran = exc.result.as_dict() if exc.result is not None else {}
        output = HookOutput.model_validate({**spec.describe(), **ran, "failure": "transient" if transient else
                                            "definite", "summary": f"{name} hook failed: {exc}"})
        if isinstance(exc, HookUnavailable):  # no answer: the executor holds a retry in the ledger
            raise TransientError(f"hook_{exc.kind}", str(exc), output.stored()) from None  # type: ignore[arg-type]
        return Outcome(FAILED, "error", output, error=str(exc))
    return Outcome(SUCCEEDED, "changed", HookOutput.model_validate({**spec.describe(), **result.as_dict(),
                                                                    "summary": done}))


def describe_bot_hook(ctx: ActionContext, name: str) -> str:
    """What approving hook `name` will run, for the operator deciding (never a secret)."""
    spec = ctx.services.hooks.get(name)
    if spec is None:
        return f"bot.hooks.{name} is not configured: nothing will run"
    if spec.config.command is not None:
        return f"runs {shlex.join(spec.config.command)}"
    return f"{spec.config.method} {spec.config.url}"
