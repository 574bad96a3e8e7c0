from __future__ import annotations

import json
import time

import requests

from sources.accesslog import PROBE_PRODUCT, probe_user_agent
from tests.exporters.conftest import Exporter, ManualClock, Scrape, make_exporter
from tests.support.simulator import RunningSimulator


def scrape_after(exporter: Exporter, seconds: float) -> Scrape:
    """Scrape once to set the baseline offset, let traffic flow, then scrape again."""
    time.sleep(seconds)
    return exporter.scrape()


def failures(scrape: Scrape, channel: str) -> float:
    return sum(scrape.value("tradingbot_auth_failures_total", channel=channel, code=c) or 0 for c in ("401", "403"))


def test_healthy_bot_passes_every_probe_and_counts_requests(exporter: Exporter) -> None:
    first = exporter.scrape()
    for probe in (
        "health_live",
        "health_ready",
        "api_status_authenticated",
        "api_trade_unauthenticated_rejected",
        "supabase_auth_health",
        "jwt_issuance",
    ):
        assert first.value("tradingbot_probe_success", probe=probe) == 1, probe
    assert first.value("tradingbot_probe_http_status", probe="api_trade_unauthenticated_rejected") in (401, 403)
    later = scrape_after(exporter, 1.5)
    api = later.value("tradingbot_requests_total", channel="api")
    websocket = later.value("tradingbot_requests_total", channel="websocket")
    assert api is not None and api >= 3 and websocket is not None and websocket >= 1
    assert failures(later, "api") == 0
    assert later.value("tradingbot_access_log_malformed_lines_total") == 0


def test_bad_client_tokens_are_counted_per_channel_and_code(exporter: Exporter) -> None:
    exporter.scrape()
    exporter.sim.inject("auth-failures", share=0.8, channel="both", reason="expired")
    later = scrape_after(exporter, 2.0)
    assert later.value("tradingbot_auth_failures_total", channel="api", code="401")
    assert later.value("tradingbot_auth_failures_total", channel="websocket", code="401")
    assert later.value("tradingbot_probe_success", probe="api_status_authenticated") == 1  # probes still get in


def test_insufficient_funds_403_is_a_request_but_not_an_auth_failure(exporter: Exporter) -> None:
    exporter.scrape()
    exporter.sim.inject("insufficient-funds", share=1.0)
    later = scrape_after(exporter, 2.5)
    lines = [json.loads(line) for line in exporter.sim.access_log.read_text().splitlines()]
    assert any(line["status"] == 403 and line["error_code"] == 40310000 for line in lines)
    assert failures(later, "api") == 0


def test_misconfigured_verification_key_fails_the_authenticated_probe(exporter: Exporter) -> None:
    exporter.sim.inject("auth-failures", scope="all", reason="bad-signature")
    scrape = exporter.scrape()
    assert scrape.value("tradingbot_probe_success", probe="api_status_authenticated") == 0
    assert scrape.value("tradingbot_probe_http_status", probe="api_status_authenticated") in (401, 403)
    assert scrape.value("tradingbot_probe_success", probe="jwt_issuance") == 1


def test_auth_bypass_is_seen_by_the_unauthenticated_trade_probe(exporter: Exporter) -> None:
    exporter.sim.inject("auth-bypass")
    scrape = exporter.scrape()
    assert scrape.value("tradingbot_probe_success", probe="api_trade_unauthenticated_rejected") == 0
    assert scrape.value("tradingbot_probe_http_status", probe="api_trade_unauthenticated_rejected") == 422


def test_supabase_outage_fails_issuance_but_the_cached_token_still_works(sim: RunningSimulator) -> None:
    clock = ManualClock()
    exporter = make_exporter(sim, clock=clock, issuance_interval_seconds=300)
    exporter.scrape()  # issues the probe token
    exporter.sim.inject("supabase-outage", mode="down")
    clock.advance(300)  # the next sign-in is due
    scrape = exporter.scrape()
    exporter.close()
    assert scrape.value("tradingbot_probe_success", probe="supabase_auth_health") == 0
    assert scrape.value("tradingbot_probe_http_status", probe="supabase_auth_health") == 503
    assert scrape.value("tradingbot_probe_success", probe="jwt_issuance") == 0
    assert scrape.value("tradingbot_probe_success", probe="api_status_authenticated") == 1


def test_bot_degraded_fails_readiness_only(exporter: Exporter) -> None:
    exporter.sim.inject("bot-degraded")
    scrape = exporter.scrape()
    assert scrape.value("tradingbot_probe_success", probe="health_ready") == 0
    assert scrape.value("tradingbot_probe_http_status", probe="health_ready") == 503
    assert scrape.value("tradingbot_probe_success", probe="health_live") == 1


HEALTH_FIELDS = {"degraded_fields": [
    {"path": "checks.order_sync", "healthy": ["ok"]},
    {"path": "checks.database", "name": "database", "healthy": ["ok"]},
    {"path": "services.alpaca", "name": "alpaca", "degraded": ["missing"], "when_missing": "healthy"},
]}


def test_ready_but_degraded_is_exported_per_configured_field(sim: RunningSimulator) -> None:
    exporter = make_exporter(sim, bot={"health": HEALTH_FIELDS})
    try:
        healthy = exporter.scrape()
        assert healthy.samples("tradingbot_bot_health_degraded") == {
            (("field", "checks.order_sync"),): 0, (("field", "database"),): 0, (("field", "alpaca"),): 0}
        sim.inject("bot-degraded", field="order_sync", ready_status=200)
        degraded = exporter.scrape()
        assert degraded.value("tradingbot_probe_success", probe="health_ready") == 1  # ready: it answers 200
        assert degraded.value("tradingbot_bot_health_degraded", field="checks.order_sync") == 1
        assert degraded.value("tradingbot_bot_health_degraded", field="database") == 0
    finally:
        exporter.close()


def test_no_degraded_field_is_exported_unless_configured_or_without_a_json_body(exporter: Exporter) -> None:
    assert exporter.scrape().samples("tradingbot_bot_health_degraded") == {}
    bot_down = make_exporter(exporter.sim, bot_url="http://127.0.0.1:9", bot={"health": HEALTH_FIELDS})
    try:
        assert bot_down.scrape().samples("tradingbot_bot_health_degraded") == {}  # no answer: no verdict
    finally:
        bot_down.close()


def test_without_an_access_log_only_the_probes_are_exported(sim: RunningSimulator) -> None:
    """A bot with no usable log: no access-log series at all, so the rules read its own HTTP counters."""
    exporter = make_exporter(sim, bot={"access_log": None})
    try:
        scrape = exporter.scrape()
    finally:
        exporter.close()
    names = {sample.name for sample in scrape.all}
    assert not names & {"tradingbot_auth_failures_total", "tradingbot_requests_total",
                        "tradingbot_access_log_malformed_lines_total", "tradingbot_auth_failing_clients"}
    assert scrape.value("tradingbot_probe_success", probe="api_status_authenticated") == 1
    assert scrape.value("tradingbot_collector_up", collector="auth_failures") == 1


def test_a_format_that_names_no_client_exports_no_client_counts(sim: RunningSimulator) -> None:
    fields = {"user": None, "remote_addr": None, "token": None}
    exporter = make_exporter(sim, bot={"access_log_format": {"fields": fields}})
    try:
        scrape = exporter.scrape()
    finally:
        exporter.close()
    assert scrape.value("tradingbot_requests_total", channel="api") is not None
    assert scrape.samples("tradingbot_auth_failing_clients") == {}


def test_stale_orders_and_quarantine_are_counted(exporter: Exporter) -> None:
    before = exporter.scrape()
    assert sum(before.samples("tradingbot_stale_orders").values()) == 0
    exporter.sim.inject("stale-orders", profile="p-2", count=6, age_seconds=1200)
    scrape = exporter.scrape()
    assert scrape.value("tradingbot_stale_orders", profile="p-2") == 6
    age = scrape.value("tradingbot_stale_order_oldest_age_seconds", profile="p-2")
    assert age is not None and 1200 <= age < 1260
    assert sum(scrape.samples("tradingbot_stale_orders").values()) == 6


def test_a_client_sending_the_public_probe_name_is_still_counted(exporter: Exporter) -> None:
    exporter.scrape()
    for user_agent in (PROBE_PRODUCT, probe_user_agent("guessed")):
        answer = requests.get(f"{exporter.sim.bot_url}/api/status", headers={"User-Agent": user_agent}, timeout=5)
        assert answer.status_code == 401
    later = exporter.scrape()  # the exporter's own unauthenticated trade probe (a 401) is still left out
    assert later.value("tradingbot_auth_failures_total", channel="api", code="401") == 2


def probe_sign_ins(sim: RunningSimulator) -> int:
    """How many times the probe user has signed in at the simulator's Supabase."""
    answer = requests.get(f"{sim.control_url}/supabase/sign-ins", timeout=5)
    answer.raise_for_status()
    return int(answer.json()["sign_ins"].get(sim.env["PROBE_USER_EMAIL"], 0))


def test_the_probe_user_signs_in_once_per_issuance_interval(sim: RunningSimulator) -> None:
    clock = ManualClock()
    exporter = make_exporter(sim, clock=clock, issuance_interval_seconds=300)
    try:
        before = probe_sign_ins(sim)
        exporter.scrape()
        clock.advance(299)
        within = exporter.scrape()
        assert probe_sign_ins(sim) == before + 1
        assert within.value("tradingbot_probe_success", probe="jwt_issuance") == 1  # the last attempt's result
        assert within.value("tradingbot_probe_success", probe="api_status_authenticated") == 1
        clock.advance(1)
        exporter.scrape()
        assert probe_sign_ins(sim) == before + 2
    finally:
        exporter.close()


def test_a_failed_sign_in_is_retried_at_the_next_scrape(sim: RunningSimulator) -> None:
    clock = ManualClock()
    exporter = make_exporter(sim, clock=clock, issuance_interval_seconds=300)
    try:
        before = probe_sign_ins(sim)
        exporter.sim.inject("supabase-outage", mode="down")
        assert exporter.scrape().value("tradingbot_probe_success", probe="jwt_issuance") == 0
        assert exporter.scrape().value("tradingbot_probe_success", probe="jwt_issuance") == 0
        exporter.sim.reset()
        clock.advance(1)
        assert exporter.scrape().value("tradingbot_probe_success", probe="jwt_issuance") == 1
        assert probe_sign_ins(sim) == before + 1
    finally:
        exporter.close()
