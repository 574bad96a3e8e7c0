"""deploy/kubernetes/prometheusrule.yaml: current with alerts/rules/, a PrometheusRule, accepted by promtool."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "prometheusrule.py"
COMMITTED = REPO / "deploy" / "kubernetes" / "prometheusrule.yaml"
RULES = REPO / "alerts" / "rules"
DNS_1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def run_script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=60)


def resource() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMMITTED.read_text(encoding="utf-8"))
    return loaded


def rule_file_groups() -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = []
    for path in sorted(RULES.glob("*.yml")):
        groups.extend(yaml.safe_load(path.read_text(encoding="utf-8"))["groups"])
    return groups


def test_committed_file_equals_a_fresh_render(tmp_path: Path) -> None:
    fresh = tmp_path / "prometheusrule.yaml"
    result = run_script("--output", str(fresh))
    assert result.returncode == 0, result.stderr
    assert COMMITTED.read_text(encoding="utf-8") == fresh.read_text(encoding="utf-8"), (
        "deploy/kubernetes/prometheusrule.yaml is out of date: run `make prometheusrule`"
    )


def test_check_mode_accepts_the_committed_file_and_rejects_a_stale_one(tmp_path: Path) -> None:
    assert run_script("--check").returncode == 0
    stale = tmp_path / "prometheusrule.yaml"
    stale.write_text(COMMITTED.read_text(encoding="utf-8").replace("for: 30s", "for: 5m", 1), encoding="utf-8")
    result = run_script("--check", "--output", str(stale))
    assert result.returncode == 1
    assert "make prometheusrule" in result.stderr


def test_it_is_a_prometheusrule_resource() -> None:
    doc = resource()
    assert doc["apiVersion"] == "monitoring.coreos.com/v1"
    assert doc["kind"] == "PrometheusRule"
    name = doc["metadata"]["name"]
    assert isinstance(name, str) and len(name) <= 253 and DNS_1123_SUBDOMAIN.match(name), name
    assert set(doc) == {"apiVersion", "kind", "metadata", "spec"}
    assert set(doc["spec"]) == {"groups"}
    names = [group["name"] for group in doc["spec"]["groups"]]
    assert len(names) == len(set(names)), f"duplicate group names: {names}"
    for group in doc["spec"]["groups"]:
        assert group["rules"], f"group {group['name']} has no rules"


def test_it_carries_exactly_the_rule_files_groups() -> None:
    """The same groups, rules, expressions, labels and annotations as alerts/rules/*.yml, nothing more."""
    assert resource()["spec"]["groups"] == rule_file_groups()


def test_it_carries_every_alert_of_the_rule_files() -> None:
    def alerts(groups: list[dict[str, Any]]) -> list[str]:
        return sorted(rule["alert"] for group in groups for rule in group["rules"] if "alert" in rule)

    expected = alerts(rule_file_groups())
    assert "GhostPosition" in expected and "ResponderDown" in expected
    assert alerts(resource()["spec"]["groups"]) == expected


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed (make tools)")
def test_promtool_accepts_its_groups(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(yaml.safe_dump({"groups": resource()["spec"]["groups"]}, sort_keys=False), encoding="utf-8")
    result = subprocess.run(["promtool", "check", "rules", str(rules)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed (make tools)")
def test_promtool_rejects_a_broken_group(tmp_path: Path) -> None:
    """The promtool check above can fail: a broken expression in the same shape is refused."""
    groups = resource()["spec"]["groups"]
    groups[0]["rules"][0]["expr"] = "sum by (channel) (rate(tradingbot_auth_failures_total[2m]"
    rules = tmp_path / "rules.yml"
    rules.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False), encoding="utf-8")
    result = subprocess.run(["promtool", "check", "rules", str(rules)], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
