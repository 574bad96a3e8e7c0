"""`python -m bench --tiny`: every scenario whose tools are installed runs end to end at tiny sizes.

Tiny sizes say nothing about performance; what is checked is that each scenario measures what it
claims: one broker read per account, every acknowledged alert in the ledger, the budget applied in
the storm, both peers answered. The full run is `make bench`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.databases import admin_url

REPO = Path(__file__).resolve().parents[2]
NEEDS = {"scrape": ["prometheus-sql-exporter"], "ghost": [], "ingest": ["wrk"], "storm": ["prometheus-alertmanager"]}

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def _missing(scenario: str) -> list[str]:
    return [tool for tool in NEEDS[scenario] if shutil.which(tool) is None]


@pytest.fixture(scope="module")
def results(postgres_available: None, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    runnable = [name for name in NEEDS if not _missing(name)]
    out = tmp_path_factory.mktemp("bench")
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--tiny", "--only", ",".join(runnable), "--out", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=240, check=False,
        env={**_env(), "TEST_DATABASE_URL": admin_url()},
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "| figure |" in done.stdout  # the table is printed
    assert (out / "results.md").read_text(encoding="utf-8").startswith("# Benchmark results")
    loaded: dict[str, Any] = json.loads((out / "results.json").read_text(encoding="utf-8"))
    return loaded


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PROMETHEUS_")}


def _scenario(results: dict[str, Any], name: str) -> dict[str, Any]:
    missing = _missing(name)
    if missing:
        pytest.skip(f"{name}: {', '.join(missing)} not installed (`make bench` installs it)")
    found: dict[str, Any] = results[name]
    assert "error" not in found, found
    return found


def test_scrape_measures_collector_bare_sql_and_sql_exporter(results: dict[str, Any]) -> None:
    scrape = _scenario(results, "scrape")
    assert scrape["collector"]["series"] == 3 * 20 + 2  # 3 per profile, plus up and duration
    assert scrape["collector"]["bare_sql_ms"]["n"] == scrape["collector"]["scrape_ms"]["n"] == 5
    assert scrape["sql_exporter"]["refreshes_watched"] >= 1
    assert set(scrape["database_ms_per_evaluation"]) == {"collector", "sql_exporter"}


def test_ghost_reads_every_account_once_per_scrape(results: dict[str, Any]) -> None:
    ghost = _scenario(results, "ghost")
    assert ghost["broker_reads_per_scrape"] == [10, 10]
    assert ghost["accounts_up_per_scrape"] == [10, 10]


def test_ingest_records_every_acknowledged_alert(results: dict[str, Any]) -> None:
    ingest = _scenario(results, "ingest")
    assert ingest["closed_loop"]["errors"] == {"responder": 0, "bare": 0}
    assert ingest["ledger_check"]["ok"]
    assert ingest["ledger_check"]["acknowledged_deliveries"] > 0


def test_storm_records_everything_and_applies_the_budget(results: dict[str, Any]) -> None:
    storm = _scenario(results, "storm")
    assert storm["recorded"] == storm["alerts"] == 20
    assert storm["delivery"]["acknowledged"] == 20
    assert storm["budget_applied"], storm["deactivate_steps"]
    assert {"responder", "simulator"} <= set(storm["peak_rss_mib"])
    through_alertmanager = results["storm_alertmanager"]
    assert through_alertmanager["recorded"] == 20
    assert through_alertmanager["alertmanager_failed_notifications"] == 0  # Alertmanager never gave up a delivery
    assert "alertmanager" in through_alertmanager["peak_rss_mib"]
