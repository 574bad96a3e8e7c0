"""The real Alertmanager 0.25 delivering to the responder over HTTP, including a ``max_alerts``-truncated
group that the responder fetches back from Alertmanager's own API."""

from __future__ import annotations

import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select

from responder.ledger.schema import alerts
from tests.responder.harness import WEBHOOK_TOKEN, harness, sections
from tests.responder.record_payloads import alertmanager, api_alert, post_alerts
from tests.support.botstate import add_account, add_profile
from tests.support.ports import free_port
from tests.support.wsgi import serve_wsgi

BINARY = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
pytestmark = [pytest.mark.e2e, pytest.mark.skipif(BINARY is None, reason="no Alertmanager binary")]


def test_alertmanager_delivers_and_a_truncated_group_is_recovered_from_its_api(tmp_path: Path) -> None:
    assert BINARY is not None
    am_port = free_port()
    config = sections(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite3'}",
                      responder={"alertmanager_urls": [f"http://127.0.0.1:{am_port}"]})
    with harness(tmp_path, config) as h, serve_wsgi(h.client.application) as url:
        with alertmanager(BINARY, url, tmp_path, token=WEBHOOK_TOKEN, port=am_port) as am:
            starts = datetime.now(UTC) - timedelta(seconds=30)
            stale = [{"alertname": "StalePendingOrders", "severity": "sev2", "profile": f"p-{n}"} for n in range(1, 6)]
            post_alerts(am, [api_alert(labels, starts) for labels in stale])
            deadline = time.monotonic() + 30
            names: list[str] = []
            while time.monotonic() < deadline and len(names) < 5:
                time.sleep(0.2)
                with h.ledger.connect() as conn:
                    names = list(conn.execute(select(alerts.c.alertname)).scalars())
        metrics = h.client.get("/metrics").text
    assert sorted(names) == ["StalePendingOrders"] * 5  # 2 in the payload + 3 fetched back, nothing raised
    assert 'tradingbot_responder_truncated_alerts_total{outcome="recovered"} 3.0' in metrics
    assert 'tradingbot_responder_notifications_total{outcome="accepted"}' in metrics


def test_an_inhibited_alert_that_resolves_without_a_resolved_delivery_has_its_run_ended_by_the_sweeper(
    tmp_path: Path,
) -> None:
    """Real Alertmanager 0.25 mutes the RESOLVED of an inhibited alert; the sweeper finds the alert gone from its
    API and resolves the occurrence: the run's waiting steps are cancelled and the resolved playbook runs."""
    assert BINARY is not None
    am_port = free_port()
    config = sections(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite3'}", responder={
        "alertmanager_urls": [f"http://127.0.0.1:{am_port}"],
        "sweeper": {"interval_seconds": 0.5, "absent_for_seconds": 1.0},
    })
    inhibit = [{"source_matchers": ['alertname="MaintenanceWindow"'], "target_matchers": ['alertname="GhostPosition"']}]
    ghost = {"alertname": "GhostPosition", "severity": "sev1", "account": "acct-1", "symbol": "AAPL", "profile": "p-1"}
    with harness(tmp_path, config) as h, serve_wsgi(h.client.application) as url:
        add_account(h.bot, "acct-1")
        add_profile(h.bot, "p-1", "acct-1", datetime.now(UTC))
        with alertmanager(BINARY, url, tmp_path, token=WEBHOOK_TOKEN, port=am_port, inhibit_rules=inhibit) as am:
            starts = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=30)
            post_alerts(am, [api_alert(ghost, starts)])
            run_id = wait_until(lambda: (h.run_ids() or [None])[0], "the firing delivery")
            wait_until(lambda: h.drain() or h.step(run_id, "reconcile").state == "awaiting_approval", "the run parked")
            post_alerts(am, [api_alert({"alertname": "MaintenanceWindow", "severity": "sev3"}, starts)])
            wait_until(lambda: _inhibited(am), "the ghost inhibited")
            for _ in range(3):  # inhibited but still firing: listed by Alertmanager, so the run stays open
                assert h.runtime.sweeper.sweep_once().resolved == 0
                time.sleep(0.4)
            assert h.run_state(run_id) == "active"
            post_alerts(am, [api_alert(ghost, starts, datetime.now(UTC))])  # resolves while inhibited
            wait_until(lambda: h.runtime.sweeper.sweep_once().resolved == 1, "the sweeper to resolve it", every=0.3)
            h.drain()
        with h.ledger.connect() as conn:
            sources = dict(conn.execute(select(alerts.c.status, alerts.c.source)).all())
        metrics = h.client.get("/metrics").text
        reconcile = h.step(run_id, "reconcile")
        resolved_runs = [r for r in h.run_ids() if r != run_id]
        assert sources == {"firing": "webhook", "resolved": "sweeper"}  # no RESOLVED delivery came
        assert h.run_state(run_id) == "cancelled"
        assert (reconcile.state, reconcile.outcome) == ("skipped", "alert_resolved")
        assert len(resolved_runs) == 1 and h.run_state(resolved_runs[0]) == "succeeded"  # the RCA, the final notice
        assert "tradingbot_responder_swept_alerts_total 1.0" in metrics


def _inhibited(am: str) -> bool:
    listed = requests.get(f"{am}/api/v2/alerts", params={"filter": 'alertname="GhostPosition"'}, timeout=5).json()
    return bool(listed) and bool(listed[0]["status"]["inhibitedBy"])


def wait_until(check: Any, what: str, timeout: float = 30.0, every: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"{what} did not happen within {timeout} s")
