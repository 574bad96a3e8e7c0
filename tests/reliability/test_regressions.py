"""Bugs the reliability suite found in the responder, each pinned by its smallest reproduction.

- A timestamp whose zone pushes it outside year 1..9999 in UTC crashed parsing (OverflowError, HTTP 500).
- Unix seconds as strings (``"0"``) were taken as timestamps, though the webhook promises RFC 3339.
- ``truncatedAlerts: 3.0`` (an integer to JSON Schema) was refused.
- ``GET /runs?limit=²`` crashed (``str.isdigit`` accepts digits ``int`` cannot read): HTTP 500.
- ``GET /runs`` ignored unknown and repeated query parameters; its 400 was undocumented.
- ``/openapi.json`` said OpenAPI 3.0 but used JSON Schema 2020-12 (``const``, ``propertyNames``), which 3.0
  tools ignore, so schema-valid requests (``version: "output"``) were refused; label names could hold NUL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.responder.harness import OPERATOR_TOKEN, Harness, harness, sections
from tests.responder.payloads import alert, ghost_labels, notification

pytestmark = pytest.mark.reliability


@pytest.fixture
def h(tmp_path: Path) -> Iterator[Harness]:
    with harness(tmp_path, sections(tmp_path, f"sqlite:///{tmp_path / 'ledger.sqlite3'}")) as made:
        yield made


@pytest.mark.parametrize("starts_at", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_timestamps_outside_the_utc_range_are_400_not_500(h: Harness, starts_at: str) -> None:
    answer = h.post(notification({**alert(ghost_labels()), "startsAt": starts_at}))
    assert answer.status_code == 400 and "out of range" in answer.json["error"]


@pytest.mark.parametrize("starts_at", ["0", "1700000000", "-1", "2026-01-01 00:00:00Z", "2026-01-01T00:00:00+0100"])
def test_timestamps_must_be_rfc3339(h: Harness, starts_at: str) -> None:
    answer = h.post(notification({**alert(ghost_labels()), "startsAt": starts_at}))
    assert answer.status_code == 400 and "RFC 3339" in answer.json["error"]


def test_an_integral_float_is_a_count(h: Harness) -> None:
    body: dict[str, Any] = {**notification(alert({"alertname": "Unrouted"})), "truncatedAlerts": 0.0}
    assert h.post(body).status_code == 200
    assert h.post({**body, "truncatedAlerts": 0.5}).status_code == 400


@pytest.mark.parametrize(
    ("query", "status"),
    [("limit=%C2%B2", 400), ("limit=%EF%BC%95", 400), ("limit=5", 200), ("limit=5&limit=6", 400),
     ("alertnmae=GhostPosition", 400), ("alertname=x%00", 400), ("", 200)],
)
def test_runs_query_is_strict_and_never_500(h: Harness, query: str, status: int) -> None:
    answer = h.client.get(f"/runs?{query}", headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"})
    assert answer.status_code == status, answer.json


def test_openapi_document_is_31_and_states_label_name_rules(h: Harness) -> None:
    spec = h.client.get("/openapi.json").json
    assert spec["openapi"] == "3.1.0"
    schemas = spec["components"]["schemas"]
    assert schemas["Notification"]["properties"]["version"]["const"] == "4"
    assert schemas["Alert"]["properties"]["labels"]["propertyNames"]["pattern"] == "^[^\\u0000]*$"
    assert "400" in spec["paths"]["/runs"]["get"]["responses"]
