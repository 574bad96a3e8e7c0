"""The real Alertmanagers on the committed configs: inhibitions for people, never for the automation.

amtool cannot test inhibition or what a receiver is actually sent; this runs prometheus-alertmanager 0.25
on local copies of both committed configs (receiver URLs and secret files rewritten as docs/alerting.md
describes), posts to both what Prometheus would (the alerts the promtool tests expect the rules to
produce), and looks at what reaches each receiver: the people's Alertmanager mutes the alerts a source
explains, while the automation's delivers every firing and every resolve of them to the responder.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from stack.render import DEFAULT_RUNBOOK_BASE_URL
from tests.alerts.amstack import (
    Alertmanager,
    CaptureServer,
    Delivery,
    alert_key,
    both_copies,
    delivered,
    post_to_all,
    promtool_alert,
    running_alertmanager,
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("prometheus-alertmanager") is None, reason="prometheus-alertmanager missing"),
]

GHOST = promtool_alert("ghost-positions.yml", "GhostPosition", account="acct-1")
ESCALATION = promtool_alert("stale-orders.yml", "StaleBacklogEscalation")
CONTROL_DOWN = promtool_alert("auth.yml", "TradingControlEndpointsDown")
BOT_DOWN = promtool_alert("bot-health.yml", "TradingBotDown")
WATCHDOG = promtool_alert("pipeline.yml", "Watchdog")
SOURCES = [GHOST, ESCALATION, CONTROL_DOWN, BOT_DOWN, WATCHDOG]

MISMATCH_GHOST = promtool_alert("ghost-positions.yml", "PositionMismatch")
MISMATCH_GHOST = {
    **MISMATCH_GHOST,
    "labels": {**MISMATCH_GHOST["labels"], "account": "acct-1", "symbol": "AAPL"},
    "annotations": {k: v.replace("ETHUSD", "AAPL") for k, v in MISMATCH_GHOST["annotations"].items()},
}
MISMATCH_OTHER = promtool_alert("ghost-positions.yml", "PositionMismatch")  # acct-1 ETHUSD: no ghost there
STALE = promtool_alert("stale-orders.yml", "StalePendingOrders")
SPIKE = promtool_alert("auth.yml", "AuthFailureSpike")
NOT_READY = promtool_alert("bot-health.yml", "TradingBotNotReady")
INHIBITED = [MISMATCH_GHOST, STALE, SPIKE, NOT_READY]
PEOPLE = ("pagerduty", "slack", "heartbeat", "tickets")

def _to_people(capture: CaptureServer) -> list[Delivery]:
    return [d for d in capture.deliveries if d.receiver in PEOPLE]


def _people_texts(capture: CaptureServer) -> str:
    return " ".join(str(d.body) for d in _to_people(capture))


@dataclass
class Stack:
    people: list[Alertmanager]
    automation: list[Alertmanager]
    capture: CaptureServer
    secrets: dict[str, str]

    @property
    def all(self) -> list[Alertmanager]:
        return [*self.people, *self.automation]


def _fire_sources_then_targets(stack: Stack) -> None:
    """The sources fire first; the alerts they explain (and one they do not) fire while they do."""
    capture = stack.capture
    post_to_all(stack.all, SOURCES)
    capture.wait_for("sources at the responder", lambda: len(delivered(capture.received("responder"))) == 5)
    post_to_all(stack.all, [*INHIBITED, MISMATCH_OTHER])


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One people's and one automation Alertmanager, the sources firing, then the alerts they inhibit."""
    directory: Path = tmp_path_factory.mktemp("alertmanagers")
    with CaptureServer() as capture:
        people_config, automation_config, secrets = both_copies(directory, capture.base_url)
        with (
            running_alertmanager(people_config, directory, "people") as people,
            running_alertmanager(automation_config, directory, "automation") as automation,
        ):
            running = Stack([people], [automation], capture, secrets)
            _fire_sources_then_targets(running)
            capture.wait_for("sev1 pages", lambda: len(capture.received("pagerduty")) >= 3)
            capture.wait_for("sev1 chat", lambda: len(capture.received("slack")) >= 3)
            yield running


def test_the_people_alertmanager_inhibits_the_targets_of_firing_sources(stack: Stack) -> None:
    state = {alert_key(a): a["status"] for a in stack.people[0].alerts()}
    for alert in INHIBITED:
        assert state[alert_key(alert)]["state"] == "suppressed", alert["labels"]
        assert state[alert_key(alert)]["inhibitedBy"], alert["labels"]
    for alert in [*SOURCES, MISMATCH_OTHER]:
        assert state[alert_key(alert)]["state"] == "active", alert["labels"]


def test_inhibited_alerts_reach_no_person(stack: Stack) -> None:
    """Waits for the uninhibited SEV-2 posted with them to reach chat (its 30 s group_wait)."""
    capture = stack.capture
    other = MISMATCH_OTHER["annotations"]["summary"]
    capture.wait_for("the uninhibited mismatch in chat", lambda: other in _people_texts(capture), 60)
    webhooks = [d for d in _to_people(capture) if "alerts" in d.body]  # heartbeat, tickets
    assert delivered(webhooks) & {alert_key(a) for a in INHIBITED} == set()
    texts = _people_texts(capture)
    for alert in INHIBITED:
        assert alert["annotations"]["summary"] not in texts, alert["labels"]


def test_the_automation_alertmanager_inhibits_nothing(stack: Stack) -> None:
    state = {alert_key(a): a["status"] for a in stack.automation[0].alerts()}
    assert set(state) == {alert_key(a) for a in [*SOURCES, *INHIBITED, MISMATCH_OTHER]}
    assert all(s["state"] == "active" and not s["inhibitedBy"] for s in state.values()), state


def test_every_alert_reaches_the_responder_at_once_alone_with_its_bearer_token(stack: Stack) -> None:
    """The issue's case: a StalePendingOrders firing during the escalation reaches the responder now,
    not once the escalation is over."""
    capture = stack.capture
    everything = {alert_key(a) for a in [*SOURCES, *INHIBITED, MISMATCH_OTHER]}
    capture.wait_for("every alert at the responder", lambda: delivered(capture.received("responder")) >= everything)
    deliveries = capture.received("responder")
    assert delivered(deliveries) == everything
    assert all(len(d.body["alerts"]) == 1 for d in deliveries)
    assert {d.headers["Authorization"] for d in deliveries} == {f"Bearer {stack.secrets['responder_token']}"}


def test_the_watchdog_pings_the_heartbeat_only(stack: Stack) -> None:
    capture = stack.capture
    heartbeat = capture.received("heartbeat")
    assert delivered(heartbeat) == {alert_key(WATCHDOG)}
    assert heartbeat[0].headers["Authorization"] == f"Bearer {stack.secrets['heartbeat_token']}"
    assert alert_key(WATCHDOG) not in delivered(capture.received("tickets"))


def test_a_ghost_pages_with_the_communication_template(stack: Stack) -> None:
    pages = [d.body for d in stack.capture.received("pagerduty") if d.body["payload"]["class"] == "GhostPosition"]
    assert len(pages) == 1
    page = pages[0]
    annotations = GHOST["annotations"]
    assert page["routing_key"] == stack.secrets["pagerduty_routing_key"]
    assert page["event_action"] == "trigger"
    assert page["payload"]["severity"] == "critical"
    assert page["payload"]["summary"] == f"[FIRING] SEV-1: {annotations['summary']}"
    assert page["payload"]["component"] == "profile p-42"
    details = page["payload"]["custom_details"]
    assert details["Incident"] == annotations["summary"]
    assert details["Severity"] == "SEV-1"
    assert details["Impact"] == f"account=acct-1 profile=p-42 symbol=AAPL: {annotations['description']}"
    assert details["Mitigation"] == annotations["automation"]
    assert details["Next Update"] == "within 30 min: this notice repeats every 30 min while firing"
    assert details["Runbook"] == f"{DEFAULT_RUNBOOK_BASE_URL}#ghostposition"


def test_a_ghost_reaches_chat_with_the_communication_template(stack: Stack) -> None:
    messages = [
        attachment
        for d in stack.capture.received("slack")
        for attachment in d.body["attachments"]
        if "Ghost position" in attachment["title"]
    ]
    assert len(messages) == 1
    assert messages[0]["title"] == f"[FIRING:1] SEV-1 {GHOST['annotations']['summary']}"
    assert messages[0]["color"] == "danger"
    lines = messages[0]["text"].splitlines()
    assert [line.split(":*")[0] for line in lines] == [
        "*Incident",
        "*Severity",
        "*Impact",
        "*Mitigation",
        "*Next Update",
        "*Runbook",
    ]
    assert "*Severity:* SEV-1" in lines


def _resolved(alert: dict[str, Any]) -> dict[str, Any]:
    return {**alert, "endsAt": datetime.now(UTC).isoformat()}


def _wait_resolved_at_responder(capture: CaptureServer, alert: dict[str, Any], what: str) -> None:
    capture.wait_for(what, lambda: alert_key(alert) in delivered(capture.received("responder"), "resolved"), 30)


# After the tests above: it resolves alerts in the shared Alertmanagers.
def test_an_inhibited_alert_that_resolves_reaches_the_responder_while_its_source_fires(stack: Stack) -> None:
    """The issue's other case: the RESOLVED of a muted alert was never delivered, so its run never ended."""
    post_to_all(stack.all, [_resolved(STALE), _resolved(SPIKE)])
    _wait_resolved_at_responder(stack.capture, STALE, "the resolved StalePendingOrders at the responder")
    _wait_resolved_at_responder(stack.capture, SPIKE, "the resolved AuthFailureSpike at the responder")
    still = {alert_key(a): a["status"]["state"] for a in stack.people[0].alerts()}
    assert still[alert_key(ESCALATION)] == still[alert_key(CONTROL_DOWN)] == "active"  # the sources still fire
    time.sleep(1)
    texts = _people_texts(stack.capture)
    assert STALE["annotations"]["summary"] not in texts and SPIKE["annotations"]["summary"] not in texts


# Last in the module: it resolves the ghost, which lifts its inhibition for people.
def test_a_resolved_ghost_reaches_the_responder(stack: Stack) -> None:
    post_to_all(stack.all, [_resolved(GHOST)])
    _wait_resolved_at_responder(stack.capture, GHOST, "the resolved ghost at the responder")
