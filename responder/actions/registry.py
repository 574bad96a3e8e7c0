"""The action registry: a name -> `ActionSpec` map built by a factory (`responder.actions.defaults`).

An action is a function ``run(ctx, params) -> Outcome`` with a pydantic params model and a typed output
model (a `StepOutput`): the ledger stores the output serialised, and the console, the notices, the RCA and
later steps read it back through the model (`Registry.read_output`), never by string keys. A params model
names the earlier steps' output fields it reads (`Params.inputs`); playbook validation checks each exists.
Optional hooks:
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
from typing import TYPE_CHECKING, Any, Final, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from responder.evidence import Evidence
from responder.states import StepState

if TYPE_CHECKING:
    from responder.actions.context import ActionContext

Effect = Literal["observe", "mutate"]
Result = Literal[StepState.SUCCEEDED, StepState.FAILED, StepState.SKIPPED]
# What an action can end in (the other step states are the executor's and the operators').
SUCCEEDED: Final = StepState.SUCCEEDED
FAILED: Final = StepState.FAILED
SKIPPED: Final = StepState.SKIPPED


@dataclass(frozen=True)
class Input:
    """An earlier step's output field a step reads: ``step`` by name, ``field`` of its output model."""

    step: str
    field: str


class Params(BaseModel):
    """Base of every action's params: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def inputs(self) -> tuple[Input, ...]:
        """The earlier steps' output fields this step reads (checked against their models at start)."""
        return ()


class NoParams(Params):
    pass


class StepOutput(BaseModel):
    """Base of every step's output: the line people read (``summary``); each action's model adds typed fields.

    Reading ignores keys a model no longer has, so rows written by older versions still read."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    summary: str = ""

    def stored(self) -> dict[str, Any]:
        """The JSON the ledger keeps."""
        return self.model_dump(mode="json")


class DryRunOutput(StepOutput):
    """A side-effecting step recorded, not run, in dry-run mode."""

    params: dict[str, Any] = {}


class ParkedOutput(StepOutput):
    """Why a step waits for a person beyond its policy: a used-up budget, or a state changed since approval."""

    notification: str | None = None
    difference: list[str] = []
    approved_by: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What an action did: ``detail`` says how (``changed``, ``unchanged``, ``not_needed``, ``partial`` ...)."""

    result: Result
    detail: str
    output: StepOutput = field(default_factory=StepOutput)
    after: Mapping[str, Any] | None = None
    error: str | None = None

    @classmethod
    def failed(cls, error: str, output: StepOutput | None = None) -> Outcome:
        return cls(FAILED, "error", output or StepOutput(summary=error), error=error)


P = TypeVar("P", bound=Params)
OutputT = TypeVar("OutputT", bound=StepOutput)


def read_output(raw: Any, model: type[OutputT]) -> OutputT | StepOutput:
    """A stored output read back through `model`; one that does not fit it (a failed or parked step's, a row
    older than the model) reads as a plain `StepOutput` with its summary."""
    if not isinstance(raw, dict):
        return StepOutput()
    try:
        return model.model_validate(raw)
    except ValidationError:
        summary = raw.get("summary")
        return StepOutput(summary=summary if isinstance(summary, str) else "")


@dataclass(frozen=True)
class ActionSpec(Generic[P]):
    name: str
    params: type[P]
    run: Callable[[ActionContext, P], Outcome]
    effect: Effect
    summary: str
    output: type[StepOutput] = StepOutput  # what it returns: every built-in action declares its own model
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

    def output_model(self, name: str) -> type[StepOutput]:
        """The action's output model (`StepOutput` for an action this process does not know)."""
        spec = self._specs.get(name)
        return spec.output if spec is not None else StepOutput

    def read_output(self, action: str, raw: Any) -> StepOutput:
        """A step's stored output, typed by its action's model."""
        return read_output(raw, self.output_model(action))

    def parse_params(self, name: str, raw: Mapping[str, Any]) -> Params:
        """Validate raw params against the action's model (raises UnknownAction / pydantic ValidationError)."""
        params: Params = self.get(name).params.model_validate(dict(raw))
        return params
