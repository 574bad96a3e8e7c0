"""The fields of /health/ready that mean degraded, read by configuration."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from common.bot_config import HealthConfig, HealthField
from sources.botapi import FieldReading, Readiness, read_health_fields

PAYLOAD = {"status": "healthy", "services": {"alpaca": "configured", "supabase": "error"},
           "paper_trading": True, "streaming_enabled": False, "lag_seconds": 0, "workers": [1, 2]}


def fields(*specs: dict[str, Any]) -> list[HealthField]:
    return [HealthField.model_validate(spec) for spec in specs]


def test_each_field_is_healthy_or_degraded_by_its_values() -> None:
    readings = read_health_fields(PAYLOAD, fields(
        {"path": "services.alpaca", "healthy": ["configured"]},
        {"path": "services.supabase", "name": "supabase", "healthy": ["configured", "ok"]},
        {"path": "streaming_enabled", "healthy": [True]},
        {"path": "paper_trading", "degraded": [False]},
        {"path": "lag_seconds", "healthy": [False]},  # 0 is a number, not false
        {"path": "workers", "healthy": ["ok"]},
    ))
    assert readings == (
        FieldReading("services.alpaca", '"configured"', False),
        FieldReading("supabase", '"error"', True),
        FieldReading("streaming_enabled", "false", True),
        FieldReading("paper_trading", "true", False),
        FieldReading("lag_seconds", "0", True),
        FieldReading("workers", "[1,2]", True),
    )


def test_a_missing_field_is_degraded_unless_configured_otherwise() -> None:
    readings = read_health_fields(PAYLOAD, fields(
        {"path": "services.market_data", "healthy": ["ok"]},
        {"path": "checks.db", "healthy": ["ok"], "when_missing": "healthy"},
        {"path": "status.nested", "healthy": ["ok"]},  # status is a string, not an object
    ))
    assert [(r.value, r.degraded) for r in readings] == [(None, True), (None, False), (None, True)]


@pytest.mark.parametrize("body", [None, "ok", ["degraded"], 3])
def test_a_body_that_is_not_a_json_object_gives_no_verdict(body: object) -> None:
    assert read_health_fields(body, fields({"path": "status", "healthy": ["ok"]})) == ()


def test_readiness_as_recorded() -> None:
    readiness = Readiness(200, (FieldReading("a", '"x"', True), FieldReading("b", '"ok"', False)))
    assert readiness.as_dict() == {"http_status": 200, "ready": True, "degraded_fields": ["a"],
                                   "fields": {"a": '"x"', "b": '"ok"'}}


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({"path": "status"}, "give exactly one of healthy or degraded"),
        ({"path": "status", "healthy": ["ok"], "degraded": ["bad"]}, "give exactly one of healthy or degraded"),
        ({"path": "services..alpaca", "healthy": ["ok"]}, "is not a dotted path"),
        ({"path": "status", "healthy": [{"a": 1}]}, "Input should be"),
    ],
)
def test_bad_field_configurations_name_the_problem(spec: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        HealthField.model_validate(spec)


def test_field_names_are_unique() -> None:
    with pytest.raises(ValidationError, match=r"field name\(s\) \['status'\] given twice"):
        HealthConfig.model_validate({"degraded_fields": [{"path": "status", "healthy": ["ok"]},
                                                         {"path": "x", "name": "status", "healthy": ["ok"]}]})
