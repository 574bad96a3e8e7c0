"""Static checks of alerts/alertmanager.yml (people) and alerts/alertmanager-automation.yml that amtool
does not make.

amtool (scripts/check-alerts.sh) validates the files, resolves the routes of every alert and renders the
templates; here: no committed secret, the automation's route and receiver shape (and no inhibition there),
template and alert names that exist.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CONFIG = yaml.safe_load((REPO / "alerts" / "alertmanager.yml").read_text(encoding="utf-8"))
AUTOMATION = yaml.safe_load((REPO / "alerts" / "alertmanager-automation.yml").read_text(encoding="utf-8"))
TEMPLATES = "\n".join(p.read_text(encoding="utf-8") for p in sorted((REPO / "alerts" / "templates").glob("*.tmpl")))
ALERT_NAMES = {
    rule["alert"]
    for path in sorted((REPO / "alerts" / "rules").glob("*.yml"))
    for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]
    for rule in group["rules"]
    if "alert" in rule
}
SECRETS_DIR = "/etc/alertmanager/secrets/"
# Keys that would hold a secret inline; each has a *_file form that must be used instead.
INLINE_SECRETS = {"api_url", "routing_key", "service_key", "credentials", "password", "bearer_token", "api_key"}


def _walk(node: Any, path: str = "") -> Iterator[tuple[str, str, Any]]:
    """Every (path, key, value) of the config tree."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield path, key, value
            yield from _walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _walk(item, f"{path}[{index}]")


def _receiver(name: str, config: dict[str, Any] = CONFIG) -> dict[str, Any]:
    found: dict[str, Any] = next(r for r in config["receivers"] if r["name"] == name)
    return found


def _matcher_alertnames(matchers: list[str]) -> set[str]:
    names: set[str] = set()
    for matcher in matchers:
        match = re.fullmatch(r'\s*alertname\s*(=~|=)\s*"?([^"]*)"?\s*', matcher)
        if match:
            names.update(match.group(2).split("|") if match.group(1) == "=~" else [match.group(2)])
    return names


@pytest.mark.parametrize("config", [CONFIG, AUTOMATION], ids=["people", "automation"])
def test_no_secret_is_committed(config: dict[str, Any]) -> None:
    inline = [f"{path}.{key}" for path, key, _ in _walk(config) if key in INLINE_SECRETS]
    assert inline == [], "use the *_file form"
    files = [(f"{path}.{key}", value) for path, key, value in _walk(config) if key.endswith("_file")]
    assert files, "expected credentials_file / routing_key_file / api_url_file"
    assert [(where, value) for where, value in files if not str(value).startswith(SECRETS_DIR)] == []


def test_the_automation_alertmanager_sends_every_alert_alone_and_at_once_to_the_responder() -> None:
    route = AUTOMATION["route"]
    assert route["receiver"] == "responder"
    assert not route.get("routes") and not route.get("matchers")
    assert route["group_by"] == ["..."]
    assert route["group_wait"] == "0s"
    assert [r["name"] for r in AUTOMATION["receivers"]] == ["responder"]


def test_nothing_mutes_the_automation() -> None:
    """Inhibitions mute every receiver of their Alertmanager: the automation's has none, and the responder
    is no receiver of the people's (where the inhibitions are)."""
    assert not AUTOMATION.get("inhibit_rules")
    assert not AUTOMATION.get("time_intervals") and not AUTOMATION.get("mute_time_intervals")
    assert "responder" not in {r["name"] for r in CONFIG["receivers"]}
    assert CONFIG["inhibit_rules"], "inhibitions for people are expected in the people's Alertmanager"


def test_the_responder_webhook_gets_resolved_alerts_untruncated_with_a_bearer_token() -> None:
    (webhook,) = _receiver("responder", AUTOMATION)["webhook_configs"]
    assert webhook["url"].endswith("/alerts")
    assert webhook["send_resolved"] is True
    assert webhook["max_alerts"] == 0
    assert webhook["http_config"]["authorization"]["credentials_file"] == f"{SECRETS_DIR}responder_token"


def test_pages_and_chat_say_when_an_incident_is_resolved() -> None:
    (slack,) = _receiver("slack")["slack_configs"]
    (pagerduty,) = _receiver("pagerduty")["pagerduty_configs"]
    assert slack["send_resolved"] is True  # Slack's default is false
    assert pagerduty.get("send_resolved", True) is True


def test_every_template_used_is_defined() -> None:
    used = {
        name
        for _, _, value in _walk(CONFIG)
        if isinstance(value, str)
        for name in re.findall(r'\{\{\s*template\s+"([^"]+)"', value)
    }
    defined = set(re.findall(r'\{\{-?\s*define\s+"([^"]+)"', TEMPLATES))
    assert used, "the receivers should use the communication templates"
    assert used - defined == set()


def test_inhibit_rules_name_existing_alerts() -> None:
    for rule in CONFIG["inhibit_rules"]:
        assert {"source_matchers", "target_matchers"} <= rule.keys(), "use the *_matchers forms"
        assert not {"source_match", "source_match_re", "target_match", "target_match_re"} & rule.keys()
        for side in ("source_matchers", "target_matchers"):
            names = _matcher_alertnames(rule[side])
            assert names, f"{side} should name alerts: {rule}"
            assert names - ALERT_NAMES == set(), f"unknown alerts in {rule}"


@pytest.mark.parametrize("route", CONFIG["route"]["routes"], ids=lambda r: f"{r['receiver']}")
def test_routes_name_existing_alerts(route: dict[str, Any]) -> None:
    assert _matcher_alertnames(route.get("matchers", [])) - ALERT_NAMES == set()


def test_matcher_parsing_finds_alert_names() -> None:
    assert _matcher_alertnames(['alertname=~"A|B"', 'severity="sev1"', "alertname=C"]) == {"A", "B", "C"}


def _matches(matchers: list[str], labels: dict[str, str]) -> bool:
    """Equality matchers only (`name="value"`), which is all the top-level routes use."""
    for matcher in matchers:
        name, _, value = matcher.partition("=")
        if labels.get(name.strip()) != value.strip().strip('"'):
            return False
    return True


def _routes_taken(labels: dict[str, str]) -> list[dict[str, Any]]:
    """The top-level routes an alert is delivered through, in order (`continue` followed)."""
    taken: list[dict[str, Any]] = []
    for route in CONFIG["route"]["routes"]:
        if _matches(route.get("matchers", []), labels):
            taken.append(route)
            if not route.get("continue"):
                break
    return taken


def test_a_ghost_is_paged_and_posted_without_waiting() -> None:
    """Every second of a ghost is exposure: no group_wait on its page and chat, which stay one per incident."""
    ghost = {"alertname": "GhostPosition", "severity": "sev1", "profile": "p-1", "account": "a", "symbol": "X"}
    taken = _routes_taken(ghost)
    assert [route["receiver"] for route in taken] == ["pagerduty", "slack"]
    for route in taken:
        assert route["group_wait"] == "0s"
        assert route["group_by"] == ["alertname", "profile", "account", "symbol"]
    other = _routes_taken({**ghost, "alertname": "TradingControlEndpointsDown"})
    assert [route["receiver"] for route in other] == ["pagerduty", "slack"]  # other SEV-1s keep theirs
