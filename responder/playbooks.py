"""Playbooks as data: ``responder/playbooks.yml`` maps alertname + status to ordered steps.

Validated at start against the action registry and each action's params model; every error is one
line naming the file, the playbook and the step, e.g.
``responder/playbooks.yml: playbook GhostPosition/firing, step 2 (deactivate): params.profile_label: ...``.
A step that reads earlier steps' outputs (its params' ``inputs``: the order check a quarantine works from,
the evidence an RCA takes its category from) must find each field in the output model of an earlier step
of its playbook — for a ``resolved`` playbook, the alert's ``firing`` steps come first (the RCA reads the
firing run's evidence).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from common.config import ConfigError
from responder.actions.registry import Registry, UnknownAction
from responder.payload import MAX_ALERTNAME

Policy = Literal["auto", "approval", "off"]
STATUSES = ("firing", "resolved")


class StepSpec(BaseModel):
    """One step of a playbook: an action, its params and a policy."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field("", max_length=100, pattern=r"^[A-Za-z0-9_.-]*$")
    action: str = Field(min_length=1, max_length=100)
    params: dict[str, Any] = Field(default_factory=dict)
    policy: Policy = "auto"
    continue_on_failure: bool = False
    run_on_failure: bool = False
    two_person: bool = False  # the approval needs two different operators (policy: approval)

    @model_validator(mode="after")
    def _two_person_needs_approval(self) -> StepSpec:
        if self.two_person and self.policy != "approval":
            raise ValueError("two_person: true needs policy: approval")
        return self

    @property
    def step_name(self) -> str:
        return self.name or self.action


@dataclass(frozen=True)
class Playbook:
    alertname: str
    status: str
    steps: tuple[StepSpec, ...]

    @property
    def key(self) -> str:
        return f"{self.alertname}/{self.status}"


class Playbooks:
    """The validated playbooks, looked up by (alertname, status)."""

    def __init__(self, playbooks: Mapping[tuple[str, str], Playbook], source: Path) -> None:
        self._playbooks = dict(playbooks)
        self.source = source

    def get(self, alertname: str, status: str) -> Playbook | None:
        return self._playbooks.get((alertname, status))

    def __len__(self) -> int:
        return len(self._playbooks)

    def all(self) -> list[Playbook]:
        return [self._playbooks[key] for key in sorted(self._playbooks)]


def load_playbooks(path: Path, registry: Registry) -> Playbooks:
    """Read and validate the playbook file; raise ConfigError (one line) on the first problem."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read playbooks: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}: malformed YAML{where}") from None
    return parse_playbooks(raw, path, registry)


def parse_playbooks(raw: Any, source: Path, registry: Registry) -> Playbooks:
    if not isinstance(raw, dict) or set(raw) != {"playbooks"} or not isinstance(raw["playbooks"], dict):
        raise ConfigError(f"{source}: expected a mapping with the single key 'playbooks'")
    found: dict[tuple[str, str], Playbook] = {}
    for alertname, by_status in raw["playbooks"].items():
        if not isinstance(alertname, str) or not 0 < len(alertname) <= MAX_ALERTNAME:
            raise ConfigError(f"{source}: playbook names must be alertnames (1 to {MAX_ALERTNAME} characters)")
        if not isinstance(by_status, dict) or not by_status or not set(by_status) <= set(STATUSES):
            raise ConfigError(f"{source}: playbook {alertname}: expected a mapping with 'firing' and/or 'resolved'")
        for status, steps in by_status.items():
            playbook = _parse_playbook(alertname, status, steps, source, registry)
            found[(alertname, status)] = playbook
    for playbook in found.values():
        firing = found.get((playbook.alertname, "firing")) if playbook.status == "resolved" else None
        _check_inputs(playbook, firing.steps if firing else (), source, registry)
    return Playbooks(found, source)


def _check_inputs(playbook: Playbook, before: tuple[StepSpec, ...], source: Path, registry: Registry) -> None:
    """Each step's inputs name an earlier step whose output model has the field (ConfigError otherwise)."""
    earlier = list(before)
    for number, step in enumerate(playbook.steps, start=1):
        where = f"{source}: playbook {playbook.key}, step {number} ({step.step_name})"
        for wanted in registry.parse_params(step.action, step.params).inputs():
            giver = next((other for other in reversed(earlier) if other.step_name == wanted.step), None)
            if giver is None:
                raise ConfigError(f"{where}: reads {wanted.step}.{wanted.field}, but no earlier step is named "
                                  f"{wanted.step!r}")
            model = registry.output_model(giver.action)
            if wanted.field not in model.model_fields:
                raise ConfigError(f"{where}: reads {wanted.step}.{wanted.field}, but step {wanted.step!r} "
                                  f"({giver.action}) outputs no field {wanted.field!r} ({model.__name__})")
        earlier.append(step)


def _parse_playbook(alertname: str, status: str, raw: Any, source: Path, registry: Registry) -> Playbook:
    where = f"{source}: playbook {alertname}/{status}"
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{where}: expected a non-empty list of steps")
    steps: list[StepSpec] = []
    for number, item in enumerate(raw, start=1):
        step = _parse_step(item, f"{where}, step {number}", registry)
        if any(other.step_name == step.step_name for other in steps):
            raise ConfigError(f"{where}, step {number} ({step.step_name}): step name is used twice")
        steps.append(step)
    return Playbook(alertname, status, tuple(steps))


# Actions a playbook step runs only with an operator's approval unless the step says otherwise (``policy:``).
APPROVAL_BY_DEFAULT = frozenset({"engage_kill_switch"})


def _parse_step(raw: Any, where: str, registry: Registry) -> StepSpec:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping with at least 'action'")
    label = f"{where} ({raw.get('name') or raw.get('action') or '?'})"
    if raw.get("action") in APPROVAL_BY_DEFAULT and "policy" not in raw:
        raw = {**raw, "policy": "approval"}
    try:
        step = StepSpec.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{label}: {_first(exc)}") from None
    try:
        registry.parse_params(step.action, step.params)
    except UnknownAction:
        raise ConfigError(f"{label}: action {step.action!r} is not registered") from None
    except ValidationError as exc:
        raise ConfigError(f"{label}: params.{_first(exc)}") from None
    return step


def _first(exc: ValidationError) -> str:
    err = exc.errors(include_url=False)[0]
    where = ".".join(str(part) for part in err["loc"]) or "(top level)"
    message = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
    return f"{where}: {message}"
