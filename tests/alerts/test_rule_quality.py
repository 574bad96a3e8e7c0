"""The quality bar of alerts/rules/*.yml and promtool-tests/*.yml, checked over the YAML.

The pint-style checks themselves live in tests/alerts/rulecheck.py; here they run over every committed
rule, and over bad examples to show each check catches what it is meant to catch. promtool itself (syntax
and the unit tests) runs in scripts/check-alerts.sh.

Production assumptions: scrape interval 15s, evaluation interval 15s (alerts/prometheus.yml).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.alerts import rulecheck

REPO = Path(__file__).resolve().parents[2]
RULES_DIR = REPO / "alerts" / "rules"
TESTS_DIR = REPO / "promtool-tests"
RUNBOOK = (REPO / "docs" / "runbooks.md").read_text(encoding="utf-8")
ANCHORS = rulecheck.markdown_anchors(RUNBOOK)
ALERTING_DOC = (REPO / "docs" / "alerting.md").read_text(encoding="utf-8")

# CONTRACT.md's alert table: severity and the labels each alert carries (besides severity).
CONTRACT = {
    "GhostPosition": ("sev1", {"account", "symbol", "profile"}),
    "StalePendingOrders": ("sev2", {"profile"}),
    "StaleBacklogEscalation": ("sev1", set()),
    "StaleBacklogGrowingAcrossProfiles": ("sev1", set()),
    "QuarantinedOrdersNeedReview": ("sev3", {"profile"}),
    "AuthFailureSpike": ("sev2", {"channel"}),
    "TradingControlEndpointsDown": ("sev1", set()),
    "UnauthenticatedTradeAccepted": ("sev1", set()),
}


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


RULE_FILES = sorted(RULES_DIR.glob("*.yml"))
GROUPS = [(path.name, group) for path in RULE_FILES for group in _load(path)["groups"]]
RULES = [(file, rule) for file, group in GROUPS for rule in group["rules"]]
ALERTS = {rule["alert"]: (file, rule) for file, rule in RULES if "alert" in rule}
RECORDS = {rule["record"]: (file, rule) for file, rule in RULES if "record" in rule}
PROMTOOL_TESTS = {path.name: _load(path) for path in sorted(TESTS_DIR.glob("*.yml"))}


def _seconds(value: Any) -> float:
    return rulecheck.parse_duration(str(value))


# --- the committed rules meet the bar -----------------------------------------------------------------


def test_rules_are_there() -> None:
    assert len(RULE_FILES) >= 4
    assert len(ALERTS) >= len(CONTRACT)
    assert RECORDS


@pytest.mark.parametrize("name", sorted(ALERTS))
def test_alert_meets_the_quality_bar(name: str) -> None:
    assert rulecheck.alert_problems(ALERTS[name][1], ANCHORS) == []


@pytest.mark.parametrize("name", sorted(RECORDS))
def test_recording_rule_meets_the_quality_bar(name: str) -> None:
    assert rulecheck.recording_problems(RECORDS[name][1]) == []


@pytest.mark.parametrize(("file", "group"), GROUPS, ids=[g["name"] for _, g in GROUPS])
def test_group_keeps_the_global_evaluation_interval(file: str, group: dict[str, Any]) -> None:
    assert rulecheck.group_problems(group) == []


def test_no_duplicate_names() -> None:
    names = [rule.get("alert") or rule.get("record") for _, rule in RULES]
    groups = [group["name"] for _, group in GROUPS]
    assert [n for n, c in Counter(names).items() if c > 1] == []
    assert [n for n, c in Counter(groups).items() if c > 1] == []


def test_production_intervals_are_the_assumed_ones() -> None:
    config = _load(REPO / "alerts" / "prometheus.yml")["global"]
    assert _seconds(config["scrape_interval"]) == rulecheck.SCRAPE_INTERVAL
    assert _seconds(config["evaluation_interval"]) == rulecheck.EVALUATION_INTERVAL


@pytest.mark.parametrize("name", sorted(CONTRACT))
def test_contract_alert_has_its_severity_and_labels(name: str) -> None:
    severity, labels = CONTRACT[name]
    assert name in ALERTS, f"{name} is in CONTRACT.md but in no rule file"
    assert ALERTS[name][1]["labels"]["severity"] == severity
    fired = _fired_label_sets(name)
    assert fired, f"no promtool test shows {name} firing"
    assert all(set(found) == labels | {"severity"} for found in fired), fired


@pytest.mark.parametrize("name", sorted(ALERTS))
def test_runbook_section_states_the_severity(name: str) -> None:
    section = _runbook_section(name.lower())
    severity = ALERTS[name][1].get("labels", {}).get("severity")
    expected = f"SEV-{severity[-1]}" if severity else "no severity"
    assert expected in section, f"docs/runbooks.md#{name.lower()} does not state {expected}"
    for other in {"SEV-1", "SEV-2", "SEV-3"} - {expected}:
        assert f"**Severity:** {other}" not in section


@pytest.mark.parametrize("name", sorted(ALERTS))
def test_alerting_doc_lists_the_alert_with_its_severity(name: str) -> None:
    severity = ALERTS[name][1].get("labels", {}).get("severity")
    shown = f"SEV-{severity[-1]}" if severity else "none"
    assert f"| `{name}` | {shown} |" in ALERTING_DOC, f"docs/alerting.md's alert table lacks {name} ({shown})"


# The responder's playbooks (responder/playbooks.yml): each alert's `automation` annotation must tell the
# truth about them. These two describe the responder's own behaviour, not a playbook.
RESPONDER_BEHAVIOUR = {"MitigationBudgetExhausted", "ResponderLedgerUnavailable"}
PLAYBOOKS: dict[str, Any] = _load(REPO / "responder" / "playbooks.yml")["playbooks"]


def test_every_playbook_is_for_an_alert_of_the_rules() -> None:
    assert set(PLAYBOOKS) - set(ALERTS) == set()


@pytest.mark.parametrize("name", sorted(ALERTS))
def test_automation_annotation_matches_the_playbook(name: str) -> None:
    automation = ALERTS[name][1]["annotations"]["automation"]
    steps = (PLAYBOOKS.get(name) or {}).get("firing") or []
    if not steps:
        assert automation.startswith("None") or name in RESPONDER_BEHAVIOUR, f"{name} has no firing playbook"
        return
    assert not automation.startswith("None"), f"{name} has a playbook: {[s['action'] for s in steps]}"
    approvals = [step["action"] for step in steps if step.get("policy") == "approval"]
    assert ("approval" in automation) == bool(approvals), f"approval steps: {approvals}"


# --- the promtool tests cover every rule --------------------------------------------------------------


def test_one_promtool_test_file_per_rule_file() -> None:
    assert sorted(PROMTOOL_TESTS) == [path.name for path in RULE_FILES]
    for name, suite in PROMTOOL_TESTS.items():
        assert suite["rule_files"] == [f"../alerts/rules/{name}"]
        assert _seconds(suite["evaluation_interval"]) == rulecheck.EVALUATION_INTERVAL


def test_every_promtool_test_sets_its_interval() -> None:
    missing = [(f, t["name"]) for f, s in PROMTOOL_TESTS.items() for t in s["tests"] if "interval" not in t]
    assert missing == []


@pytest.mark.parametrize("name", sorted(ALERTS))
def test_alert_is_shown_not_yet_then_firing(name: str) -> None:
    """Some test expects nothing at t and the alert at t + one evaluation (Watchdog: firing at 0s)."""
    file, _ = ALERTS[name]
    suite = PROMTOOL_TESTS.get(file, {"tests": []})
    for test in suite["tests"]:
        cases = {
            _seconds(case["eval_time"]): bool(case["exp_alerts"])
            for case in test.get("alert_rule_test", [])
            if case["alertname"] == name
        }
        if name in rulecheck.NO_SEVERITY and cases.get(0.0):
            return
        if any(not fires and cases.get(t + rulecheck.EVALUATION_INTERVAL) for t, fires in cases.items()):
            return
    pytest.fail(f"promtool-tests/{file} never shows {name} not yet firing, then firing one evaluation later")


@pytest.mark.parametrize("name", sorted(ALERTS))
def test_alert_has_negative_cases(name: str) -> None:
    """Beyond "not yet", some case expects the alert to stay silent (blip, trickle, threshold...)."""
    file, _ = ALERTS[name]
    if name in rulecheck.NO_SEVERITY:
        return
    silent = [
        case
        for test in PROMTOOL_TESTS[file]["tests"]
        for case in test.get("alert_rule_test", [])
        if case["alertname"] == name and not case["exp_alerts"]
    ]
    assert len(silent) >= 2, f"promtool-tests/{file} has no negative case for {name} beyond 'not yet'"


@pytest.mark.parametrize("name", sorted(RECORDS))
def test_recording_rule_has_a_promql_expr_test(name: str) -> None:
    file, _ = RECORDS[name]
    exprs = [case["expr"] for test in PROMTOOL_TESTS[file]["tests"] for case in test.get("promql_expr_test", [])]
    assert name in exprs


def _fired_label_sets(name: str) -> list[dict[str, str]]:
    file, _ = ALERTS[name]
    return [
        expected["exp_labels"]
        for test in PROMTOOL_TESTS[file]["tests"]
        for case in test.get("alert_rule_test", [])
        if case["alertname"] == name
        for expected in case["exp_alerts"]
    ]


def _runbook_section(anchor: str) -> str:
    lines = RUNBOOK.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("#") and rulecheck.github_anchor(line.lstrip("#")) == anchor:
            level = len(line) - len(line.lstrip("#"))
            end = next(
                (
                    i
                    for i in range(index + 1, len(lines))
                    if lines[i].startswith("#") and len(lines[i]) - len(lines[i].lstrip("#")) <= level
                ),
                len(lines),
            )
            return "\n".join(lines[index:end])
    pytest.fail(f"docs/runbooks.md has no section #{anchor}")


# --- each check catches what it is meant to catch ------------------------------------------------------

GOOD_ANNOTATIONS = {
    "summary": "s",
    "description": "{{ $value | humanize }}",
    "runbook_url": f"{rulecheck.DEFAULT_RUNBOOK_BASE_URL}#x",
    "automation": "a",
}


def _alert(**changes: Any) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "alert": "X",
        "expr": "max by (profile) (tradingbot_stale_orders) > 0",
        "for": "1m",
        "labels": {"severity": "sev2"},
        "annotations": dict(GOOD_ANNOTATIONS),
    }
    rule.update(changes)
    return rule


def test_a_good_example_passes() -> None:
    assert rulecheck.alert_problems(_alert(), ["x"]) == []


def test_a_value_compared_in_a_template_condition_is_not_printed_raw() -> None:
    summary = '{{ if gt $value 0.0 }}HTTP {{ $value | printf "%.0f" }}{{ else }}unknown{{ end }}'
    assert rulecheck.alert_problems(_alert(annotations={**GOOD_ANNOTATIONS, "summary": summary}), ["x"]) == []
    raw = "{{ if gt $value 0.0 }}HTTP {{ $value }}{{ end }}"
    assert rulecheck.alert_problems(_alert(annotations={**GOOD_ANNOTATIONS, "summary": raw}), ["x"])


@pytest.mark.parametrize(
    ("rule", "anchors", "problem"),
    [
        (_alert(labels={"severity": "critical"}), ["x"], "severity 'critical' is not one of"),
        (_alert(labels={}), ["x"], "severity None is not one of"),
        (_alert(alert="Watchdog", expr="vector(1)"), ["x"], "Watchdog must not carry a severity"),
        (_alert(labels={"severity": "sev2", "v": "{{ $value }}"}), ["x"], "label v uses the value"),
        (_alert(annotations={**GOOD_ANNOTATIONS, "automation": ""}), ["x"], "annotation automation missing"),
        (
            _alert(annotations={"summary": "s", "runbook_url": GOOD_ANNOTATIONS["runbook_url"], "automation": "a"}),
            ["x"],
            "annotation description missing",
        ),
        (_alert(annotations={**GOOD_ANNOTATIONS, "summary": "{{ $value }} left"}), ["x"], "prints $value raw"),
        (_alert(annotations={**GOOD_ANNOTATIONS, "runbook_url": "https://wiki/x"}), ["x"], "runbook_url must be"),
        (_alert(annotations={**GOOD_ANNOTATIONS, "runbook_url": "docs/runbooks.md#x"}), ["x"], "runbook_url must be"),
        (_alert(), ["y"], "has no section #x"),
        (_alert(expr="max by (profile) (tradingbot_stale_orders)"), ["x"], "expr does not compare"),
        (_alert(expr='up{job=~"a|b>c"}'), ["x"], "expr does not compare"),
        (_alert(expr="up == bool 0"), ["x"], "compares with bool"),
        (_alert(expr="sum(rate(tradingbot_requests_total[15s])) > 1"), ["x"], "shorter than 2 scrape intervals"),
        (_alert(expr="sum(rate(tradingbot_stale_orders[5m])) > 1"), ["x"], "rate() on tradingbot_stale_orders"),
        (_alert(expr="rate(sum(tradingbot_requests_total)[5m:]) > 1"), ["x"], "rate() on an expression"),
        (_alert(expr="tradingbot_requests_total > 100"), ["x"], "counter tradingbot_requests_total used raw"),
        (_alert(expr='absent(up{job="x"})', **{"for": "15s"}), ["x"], "absent() needs for >= 2 scrape"),
        (_alert(expr='absent(up{job="x"})', **{"for": None}), ["x"], "absent() needs for >= 2 scrape"),
        (_alert(**{"for": "5s"}), ["x"], "shorter than the evaluation interval"),
        (_alert(alert="GhostPosition", **{"for": "30s"}), ["x"], "at most the evaluation interval: one confirming"),
        (_alert(alert="GhostPosition", **{"for": "0s"}), ["x"], "must be above 0"),
        (_alert(**{"for": "5 minutes"}), ["x"], "not a Prometheus duration"),
    ],
)
def test_alert_check_catches(rule: dict[str, Any], anchors: list[str], problem: str) -> None:
    if rule.get("for") is None:
        rule.pop("for", None)
    problems = rulecheck.alert_problems(rule, anchors)
    assert any(problem in p for p in problems), problems


def test_recording_check_catches_bad_names_and_ranges() -> None:
    assert rulecheck.recording_problems({"record": "auth_failure_ratio", "expr": "vector(1)"})
    assert rulecheck.recording_problems({"record": "a:b:c", "expr": "rate(x_total[10s])"})
    assert rulecheck.recording_problems({"record": "channel:x:rate2m", "expr": "sum(rate(x_total[2m]))"}) == []


def test_group_check_catches_an_own_interval() -> None:
    assert rulecheck.group_problems({"name": "g", "interval": "1m", "rules": []})


def test_strip_promql_empties_strings_matchers_and_comments() -> None:
    stripped = rulecheck.strip_promql('sum(x{a=~"b|c>d"}) # x_total > 1\n> label_replace(y, "d", "e>", "", "")')
    assert stripped == 'sum(x{}) \n> label_replace(y, "", "", "", "")'


@pytest.mark.parametrize(("text", "seconds"), [("15s", 15), ("1m30s", 90), ("2h", 7200), ("100ms", 0.1)])
def test_parse_duration(text: str, seconds: float) -> None:
    assert rulecheck.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5", "1 m", "m5", "1.5m"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        rulecheck.parse_duration(text)


def test_markdown_anchors_follow_github() -> None:
    assert rulecheck.markdown_anchors("# Top\n### GhostPosition\n## 1) Ghost Position (Exchange Open)\n") == {
        "top",
        "ghostposition",
        "1-ghost-position-exchange-open",
    }


# --- the dashboards read what the rules record ---------------------------------------------------------

DASHBOARD_EXPRS = [
    (path.name, panel["title"], target["expr"])
    for path in sorted((REPO / "dashboards").glob("*.json"))
    for panel in json.loads(path.read_text(encoding="utf-8"))["panels"]
    for target in panel.get("targets", [])
]


@pytest.mark.parametrize(
    ("dashboard", "title", "expr"),
    DASHBOARD_EXPRS,
    ids=[f"{d}:{t}" for d, t, _ in DASHBOARD_EXPRS],
)
def test_dashboard_queries_name_only_recorded_series_the_rules_define(dashboard: str, title: str, expr: str) -> None:
    used = set(re.findall(r"[a-z_]+:[a-z0-9_]+:[a-z0-9_]+", rulecheck.strip_promql(expr)))
    assert used <= set(RECORDS), f"{dashboard} / {title}: no rule records {used - set(RECORDS)}"


def test_the_stale_backlog_panel_counts_what_the_escalation_counts() -> None:
    escalation = ALERTS["StaleBacklogEscalation"][1]["expr"]
    panel = next(expr for _, title, expr in DASHBOARD_EXPRS if title == "Total stale backlog")
    assert panel in escalation, "the panel and StaleBacklogEscalation must sum the same series"
