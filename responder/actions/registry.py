"""The action registry: a name -> `ActionSpec` map built by a factory (`responder.actions.defaults`).

An action is a function ``run(ctx, params) -> Outcome`` with a pydantic params model. Optional hooks:
``precheck`` (read-only; may decide the step is not needed before any approval or budget is asked for)
and ``snapshot`` (read-only; the before-state recorded in the ledger before the action runs).
``preview`` (read-only; what the step would do now, computed from the current state: the evidence an
operator approves, and the guard re-checked right before an approved step runs).
``effect="observe"`` actions only read (they also run in dry-run mode); ``"mutate"`` ones change
something outside the ledger and are only recorded as ``dry_run`` in dry-run mode.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

from responder.evidence import Evidence

if TYPE_CHECKING:
    from responder.actions.context import ActionContext

Effect = Literal["observe", "mutate"]
Result = Literal["succeeded", "failed", "skipped"]


class Params(BaseModel):
    """Base of every action's params: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoParams(Params):
    pass


@dataclass(frozen=True)
class Outcome:
    """What an action did: ``detail`` says how (``changed``, ``unchanged``, ``not_needed``, ``partial`` ...)."""

    result: Result
    detail: str
    output: Mapping[str, Any] = field(default_factory=dict)
    after: Mapping[str, Any] | None = None
    error: str | None = None

    @classmethod
    def failed(cls, error: str, **output: Any) -> Outcome:
        return cls("failed", "error", output, error=error)


P = TypeVar("P", bound=Params)


@dataclass(frozen=True)
class ActionSpec(Generic[P]):
    name: str
    params: type[P]
    run: Callable[[ActionContext, P], Outcome]
    effect: Effect
    summary: str
    precheck: Callable[[ActionContext, P], Outcome | None] | None = None
    snapshot: Callable[[ActionContext, P], Mapping[str, Any]] | None = None
    budget: str | None = None
    # read-only: what the step would do now, shown to whoever approves it, and re-checked before it runs
    preview: Callable[[ActionContext, P], Evidence] | None = None


class UnknownAction(KeyError):
    pass


class Registry:
    """Actions by name; one instance per process, built by a factory and passed in."""

    def __init__(self, specs: Iterable[ActionSpec[Any]]) -> None:
        self._specs: dict[str, ActionSpec[Any]] = {}
        for spec in specs:
            if spec.name in self._specs:
                raise ValueError(f"action {spec.name!r} is registered twice")
            self._specs[spec.name] = spec

    def get(self, name: str) -> ActionSpec[Any]:
        try:
            return self._specs[name]
        except KeyError:
            raise UnknownAction(name) from None

    def names(self) -> list[str]:
        return sorted(self._specs)

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def parse_params(self, name: str, raw: Mapping[str, Any]) -> Params:
        """Validate raw params against the action's model (raises UnknownAction / pydantic ValidationError)."""
        params: Params = self.get(name).params.model_validate(dict(raw))
        return params
