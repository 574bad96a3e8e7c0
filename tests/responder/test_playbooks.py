"""Playbooks are data validated at start: the default file is valid and every error names the file,
the playbook and the step."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.config import ConfigError
from responder.actions.defaults import default_registry
from responder.actions.registry import StepOutput
from responder.playbooks import load_playbooks
from tests.responder.harness import PLAYBOOKS

RUNBOOK_ALERTS = {
    "GhostPosition", "StalePendingOrders", "StaleBacklogEscalation", "StaleBacklogGrowingAcrossProfiles",
    "QuarantinedOrdersNeedReview", "AuthFailureSpike", "TradingControlEndpointsDown", "UnauthenticatedTradeAccepted",
}


def test_the_default_playbooks_cover_the_runbook_and_gate_what_must_be_gated() -> None:
    playbooks = load_playbooks(PLAYBOOKS, default_registry())
    assert {p.alertname for p in playbooks.all()} >= RUNBOOK_ALERTS
    ghost = playbooks.get("GhostPosition", "firing")
    assert ghost is not None
    policies = {step.action: step.policy for step in ghost.steps}
    assert policies["deactivate_profile"] == "auto"
    assert policies["request_reconciliation"] == policies["close_position"] == "approval"
    for alertname in ("StalePendingOrders", "StaleBacklogEscalation", "AuthFailureSpike"):
        book = playbooks.get(alertname, "firing")
        assert book is not None
        gated = [s.action for s in book.steps if s.policy == "approval"]
        assert gated in (["cancel_stuck_orders"], ["restart_bot"])
        assert any(s.action == "notify" and s.run_on_failure for s in book.steps)
    resolved = playbooks.get("GhostPosition", "resolved")
    assert resolved is not None and "deactivate_profile" not in {s.action for s in resolved.steps}


def test_every_incident_that_is_announced_gets_a_final_notice_on_resolve() -> None:
    """A firing notice promises updates; the resolved run's notice is the final one that ends them."""
    playbooks = load_playbooks(PLAYBOOKS, default_registry())
    for book in playbooks.all():
        if book.status != "firing" or book.alertname == "ResponderTruncatedAlerts":  # raised by the responder only
            continue
        if any(step.action == "notify" for step in book.steps):
            resolved = playbooks.get(book.alertname, "resolved")
            assert resolved is not None and resolved.steps[-1].action == "notify", book.alertname


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("playbooks: []\n", "expected a mapping with the single key 'playbooks'"),
        ("playbooks: {A: {firing: []}}\n", "playbook A/firing: expected a non-empty list of steps"),
        ("playbooks: {A: {pending: [{action: notify}]}}\n", "playbook A: expected a mapping with 'firing'"),
        ("playbooks: {A: {firing: [{action: nope}]}}\n", "playbook A/firing, step 1 (nope): action 'nope' is not"),
        ("playbooks: {A: {firing: [{action: notify, when: x}]}}\n", "step 1 (notify): when: unknown key"),
        ("playbooks: {A: {firing: [{action: notify, policy: maybe}]}}\n", "step 1 (notify): policy: Input should be"),
        ("playbooks: {A: {firing: [{name: d, action: deactivate_profile, params: {profile_label: [1]}}]}}\n",
         "step 1 (d): params.profile_label: Input should be a valid string"),
        ("playbooks: {A: {firing: [{action: notify, params: {colour: red}}]}}\n", "params.colour: unknown key"),
        ("playbooks: {A: {firing: [{action: notify}, {action: notify}]}}\n", "step 2 (notify): step name is used"),
        ("playbooks: {A: {firing: [oops]}}\n", "step 1: expected a mapping with at least 'action'"),
        ("playbooks: {A: [unclosed\n", "malformed YAML at line"),
        ("playbooks: {A: {firing: [{name: k, action: engage_kill_switch, params: {level: flatten}}]}}\n",
         "step 1 (k): params.level: Input should be 'stop-entries'"),
        # a step's inputs must be fields of an earlier step's output model
        ("playbooks: {A: {firing: [{action: quarantine_missing_orders}]}}\n",
         "step 1 (quarantine_missing_orders): reads check.orders, but no earlier step is named 'check'"),
        ("playbooks: {A: {firing: [{name: check, action: check_broker}, {action: cancel_stuck_orders}]}}\n",
         "step 2 (cancel_stuck_orders): reads check.orders, but step 'check' (check_broker) outputs no field "
         "'orders' (BrokerCheck)"),
        ("playbooks: {A: {firing: [{name: evidence, action: capture_auth_evidence}], "
         "resolved: [{action: draft_rca}]}}\n",
         "playbook A/resolved, step 1 (draft_rca): reads evidence.suggested_category, but step 'evidence' "
         "(capture_auth_evidence) outputs no field 'suggested_category' (AuthEvidence)"),
        ("playbooks: {A: {firing: [{name: diagnosis, action: diagnose_auth}], resolved: [{action: draft_rca, "
         "params: {category_from: diagnosis, category_key: category}}]}}\n",
         "reads diagnosis.category_reason, but step 'diagnosis' (diagnose_auth) outputs no field 'category_reason'"),
        ("playbooks: {A: {resolved: [{action: draft_rca}]}}\n",
         "playbook A/resolved, step 1 (draft_rca): reads evidence.suggested_category, but no earlier step"),
    ],
)
def test_errors_name_the_file_the_playbook_and_the_step(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "playbooks.yml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_playbooks(path, default_registry())
    assert str(err.value).startswith(f"{path}: ") and message in str(err.value)
    assert "\n" not in str(err.value)


def test_the_kill_switch_bound_to_an_alert_waits_for_approval_unless_the_step_says_otherwise(tmp_path: Path) -> None:
    default = load_playbooks(PLAYBOOKS, default_registry()).get("UnauthenticatedTradeAccepted", "firing")
    assert default is not None
    (step,) = [s for s in default.steps if s.action == "engage_kill_switch"]
    assert step.policy == "approval" and step.params == {"level": "stop-entries", "scope": "all"}
    path = tmp_path / "playbooks.yml"
    path.write_text("playbooks: {A: {firing: [{action: engage_kill_switch, policy: auto, params: {scope: alert}}]}}\n")
    bound = load_playbooks(path, default_registry()).get("A", "firing")
    assert bound is not None and bound.steps[0].policy == "auto"


def test_every_built_in_action_declares_its_own_output_model() -> None:
    registry = default_registry()
    for name in registry.names():
        model = registry.get(name).output
        assert model is not StepOutput and issubclass(model, StepOutput), name
