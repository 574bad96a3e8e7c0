"""The benchmark's own pieces, without services: statistics, bodies, the wrk script, the report, e2e input."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bench import mitigate, report
from bench.payloads import BodyStream, recorded_bodies, templates
from bench.stats import percentile, summary
from bench.wrk import lua_script
from responder.payload import parse_notification


@pytest.mark.parametrize(
    ("values", "pct", "expected"),
    [([1.0], 99, 1.0), ([1.0, 2.0, 3.0, 4.0], 50, 2.0), ([float(n) for n in range(1, 101)], 95, 95.0),
     ([float(n) for n in range(1, 101)], 99, 99.0), ([5.0, 1.0, 3.0], 100, 5.0)],
)
def test_percentile_is_nearest_rank(values: list[float], pct: float, expected: float) -> None:
    assert percentile(values, pct) == expected


def test_summary_of_nothing_is_nan() -> None:
    assert math.isnan(summary([])["p95"])


def test_replayed_bodies_are_valid_notifications_with_unique_fingerprints() -> None:
    bodies = recorded_bodies()
    stream = BodyStream(templates(bodies), "t1")
    seen: set[str] = set()
    for _ in range(30):
        notification = parse_notification(stream.next())
        for alert in notification.alerts:
            assert alert.fingerprint not in seen
            seen.add(alert.fingerprint)
    assert len(seen) == 30 // 3 * sum(len(body["alerts"]) for body in bodies)


def test_wrk_script_carries_every_recorded_body_and_the_token() -> None:
    parts = templates(recorded_bodies())
    script = lua_script(parts, "secret-token", "ab")
    assert script.count("[====[") == sum(len(p) for p in parts) + 2  # bodies' parts, the token, the tag
    assert "secret-token" in script
    assert "function done(summary, latency, requests)" in script


def _write(path: Path, measured_at: datetime) -> Path:
    path.write_text(json.dumps({"seconds": 41.5, "floor_seconds": 34.0, "interval_seconds": 2.0,
                                "measured_at": measured_at.isoformat()}), encoding="utf-8")
    return path


def test_e2e_figure_is_used_while_fresh(tmp_path: Path) -> None:
    path = _write(tmp_path / "ttm.json", datetime.now(UTC) - timedelta(hours=1))
    found = mitigate.from_e2e(path, timedelta(hours=24))
    assert found is not None
    assert (found["seconds"], found["floor_seconds"]) == (41.5, 34.0)


def test_e2e_figure_is_ignored_when_stale_absent_or_unreadable(tmp_path: Path) -> None:
    stale = _write(tmp_path / "stale.json", datetime.now(UTC) - timedelta(days=3))
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    for path in (stale, tmp_path / "absent.json", broken):
        assert mitigate.from_e2e(path, timedelta(hours=24)) is None


def test_the_crypto_soak_is_reported_with_its_fills_and_the_alerts_they_raised(tmp_path: Path) -> None:
    path = tmp_path / "crypto.json"
    body = {"crypto_fills": 612, "seconds": 104.2, "alerts": {"GhostPosition": 0, "PositionMismatch": 0},
            "measured_at": datetime.now(UTC).isoformat()}
    path.write_text(json.dumps(body), encoding="utf-8")
    soak = mitigate.crypto_soak(path, timedelta(hours=24))
    assert soak is not None and soak["crypto_fills"] == 612
    figure = {"seconds": 33.0, "floor_seconds": 34.0, "ratio_to_floor": 0.97}
    (row,) = [r for r in report.mitigate_rows({**figure, "crypto_soak": soak}) if "crypto" in r.figure]
    assert "612 crypto fills" in row.figure and row.verdict == report.MET
    raised = report.mitigate_rows({**figure, "crypto_soak": {**soak, "alerts": {"GhostPosition": 1}}})[-1]
    assert raised.verdict == report.MISSED
    assert mitigate.crypto_soak(tmp_path / "absent.json", timedelta(hours=24)) is None
    assert len(report.mitigate_rows({**figure, "crypto_soak": None})) == 1


def test_demo_report_line_is_parsed() -> None:
    line = "ghost time-to-mitigate 32.8s against a pipeline floor of 34s (for 30s + group_wait 0s + scrape 2s)"
    found = mitigate.REPORT.search(line)
    assert found is not None
    assert (float(found.group(1)), float(found.group(2))) == (32.8, 34.0)


def test_report_marks_a_missed_target_and_an_error() -> None:
    results = {
        "ghost": {"accounts": 1000, "broker_latency_ms": 50, "scrape_s": {"p95": 3.4}, "floor_s": 1.6,
                  "ratio_p95_to_floor": 2.1, "broker_reads_per_scrape": [1000, 1000], "one_read_per_account": True},
        "ingest": {"error": "RuntimeError: wrk failed"},
    }
    rows = report.rows(results)
    assert [row.verdict for row in rows] == [report.MISSED, report.MET, report.MISSED]
    assert "wrk failed" in report.markdown(rows)
