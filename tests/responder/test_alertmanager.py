"""The real Alertmanager 0.25 delivering to the responder over HTTP, including a ``max_alerts``-truncated
group that the responder fetches back from Alertmanager's own API."""

from __future__ import annotations

import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from responder.ledger.schema import alerts
from tests.responder.harness import WEBHOOK_TOKEN, harness, sections
from tests.responder.record_payloads import alertmanager, api_alert, post_alerts
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
