"""Step outputs are typed: stored as JSON, read back through the action's model, old and odd rows still read."""

from __future__ import annotations

from responder.actions.accounts import BrokerCheck
from responder.actions.defaults import default_registry
from responder.actions.ghost_evidence import GhostEvidence
from responder.actions.orders import CheckOutput
from responder.actions.registry import StepOutput

CHECKED = {
    "id": "o-1", "profile": "p1", "account": "acct-1", "symbol": "AAPL", "side": "buy", "qty": 5.0,
    "status": "pending", "status_class": "working", "rejected": False, "client_order_id": "c-1",
    "broker_order_id": None, "created_at": "2024-01-01T00:00:00+00:00", "updated_at": None,
    "broker": "missing", "age_seconds": 90000.0,
}


def test_an_output_is_stored_as_json_and_read_back_typed() -> None:
    check = CheckOutput.model_validate({"orders": [CHECKED], "counts": {"missing": 1}, "scope": "profile",
                                        "summary": "1 stale order"})
    read = default_registry().read_output("check_stale_orders", check.stored())
    assert isinstance(read, CheckOutput) and read == check
    assert (read.orders[0].broker, read.orders[0].age_seconds, read.orders[0].account) == ("missing", 90000.0, "acct-1")


def test_a_row_written_before_a_field_was_added_or_dropped_still_reads() -> None:
    older = {"orders": [{**CHECKED, "retired_key": 1}], "counts": {}, "scope": "all", "summary": "s", "gone": True}
    del older["orders"][0]["updated_at"]
    read = default_registry().read_output("check_stale_orders", older)
    assert isinstance(read, CheckOutput) and read.orders[0].updated_at is None


def test_an_output_that_does_not_fit_its_model_reads_as_its_summary() -> None:
    """A failed step's output (or a parked one's) is not the action's model: people still read its summary."""
    registry = default_registry()
    parked = {"summary": "budget exhausted; awaiting an operator", "notification": "sent"}
    read = registry.read_output("capture_ghost_evidence", parked)
    assert type(read) is StepOutput and read.summary == parked["summary"]
    assert registry.read_output("capture_ghost_evidence", None) == StepOutput()
    assert registry.read_output("no_such_action", {"summary": "x"}).summary == "x"
    assert not isinstance(registry.read_output("check_broker", {"accounts": {"a": {"ok": "maybe"}}}), BrokerCheck)


def test_ghost_evidence_names_the_fields_the_rca_reads() -> None:
    assert {"suggested_category", "category_reason", "ghost_at_capture"} <= set(GhostEvidence.model_fields)
