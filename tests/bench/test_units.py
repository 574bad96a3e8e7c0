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


def test_demo_report_lines_are_parsed() -> None:
    report_text = (
        "ghost time-to-mitigate 9.8s against a pipeline floor of 9s (for 5s + group_wait 0s + scrape 2s + "
        "evaluation 2s, worst-case alignment)\n"
        "old pipeline floor 34s (for 30s + group_wait 0s + scrape 2s + evaluation 2s, worst-case alignment), before"
        " the exporter settled fills in flight\n"
        "fill races: 30 runs (the broker shows the fill 3s before the bot records it), 0 false SEV-1\n"
    )
    found = mitigate.REPORT.search(report_text)
    assert found is not None
    assert (float(found.group(1)), float(found.group(2))) == (9.8, 9.0)
    old = mitigate.OLD_FLOOR.search(report_text)
    races = mitigate.RACES.search(report_text)
    assert old is not None and float(old.group(1)) == 34.0
    assert races is not None and (int(races.group(1)), int(races.group(2))) == (30, 0)


def test_the_ghost_is_judged_against_its_target_beside_the_old_floor_and_the_fill_races_page_nothing(
    tmp_path: Path,
) -> None:
    figure = {"seconds": 9.8, "floor_seconds": 9.0, "ratio_to_floor": 1.09, "old_floor_seconds": 34.0,
              "target_seconds": 15.0, "fill_races": {"runs": 30, "false_sev1": 0}}
    ghost, races = report.mitigate_rows(figure)
    assert ghost.verdict == report.MET and "old design: 34 s" in ghost.against and ghost.target == "<= 15 s"
    assert races.verdict == report.MET and "30 runs" in races.figure
    slow, paged = report.mitigate_rows({**figure, "seconds": 16.0, "fill_races": {"runs": 30, "false_sev1": 1}})
    assert slow.verdict == report.MISSED and paged.verdict == report.MISSED
    path = tmp_path / "races.json"
    path.write_text(json.dumps({"runs": 3, "false_sev1": 0, "measured_at": datetime.now(UTC).isoformat()}))
    found = mitigate.fill_races(path, timedelta(hours=24))
    assert found is not None and (found["runs"], found["false_sev1"]) == (3, 0)
    assert mitigate.fill_races(tmp_path / "absent.json", timedelta(hours=24)) is None


def test_report_marks_a_missed_target_and_an_error() -> None:
    results = {
        "ghost": {"accounts": 1000, "broker_latency_ms": 50, "scrape_s": {"p95": 3.4}, "floor_s": 1.6,
                  "ratio_p95_to_floor": 2.1, "broker_reads_per_scrape": [1000, 1000], "one_read_per_account": True},
        "ingest": {"error": "RuntimeError: wrk failed"},
    }
    rows = report.rows(results)
    assert [row.verdict for row in rows] == [report.MISSED, report.MET, report.MISSED]
    assert "wrk failed" in report.markdown(rows)
