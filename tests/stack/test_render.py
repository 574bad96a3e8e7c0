"""Runbook links: the rules rendered on another base URL change nothing but their `runbook_url`s."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from stack.local import LocalStack, StackOptions
from stack.render import (
    DEFAULT_RUNBOOK_BASE_URL,
    PrometheusTargets,
    RunbookBaseError,
    prometheus_config,
    with_runbook_base,
    write_rules,
)
from stack.services import StackError

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "alerts" / "rules"
BASE = "https://wiki.example/ops/trading/runbooks.html"


def _alerts(directory: Path) -> dict[str, dict[str, Any]]:
    return {
        rule["alert"]: rule
        for path in sorted(directory.glob("*.yml"))
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }


def test_every_link_moves_to_the_new_base_and_nothing_else_changes(tmp_path: Path) -> None:
    write_rules(tmp_path, BASE + "/")  # a trailing slash is dropped
    committed, rendered = _alerts(RULES), _alerts(tmp_path)
    assert committed.keys() == rendered.keys()
    for name, rule in rendered.items():
        annotations = rule["annotations"]
        assert isinstance(annotations, dict)
        assert annotations["runbook_url"] == f"{BASE}#{name.lower()}"
        original = committed[name]
        assert {**rule, "annotations": {**annotations, "runbook_url": None}} == {
            **original,
            "annotations": {**original["annotations"], "runbook_url": None},
        }
    for path in sorted(RULES.glob("*.yml")):
        before = path.read_text(encoding="utf-8").replace(DEFAULT_RUNBOOK_BASE_URL + "#", BASE + "#")
        assert (tmp_path / path.name).read_text(encoding="utf-8") == before


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool missing")
def test_rendered_rules_pass_promtool(tmp_path: Path) -> None:
    write_rules(tmp_path, BASE)
    result = subprocess.run(
        ["promtool", "check", "rules", *map(str, sorted(tmp_path.glob("*.yml")))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "base", ["docs/runbooks.md", "ftp://host/runbooks.md", "https://host/runbooks.md#x", "https://", "http://a b/"]
)
def test_a_base_that_would_not_open_in_a_browser_is_refused(base: str) -> None:
    with pytest.raises(RunbookBaseError, match="expected an absolute http:// or https:// URL"):
        with_runbook_base("runbook_url: https://a/b#x\n", base)


def test_the_local_stack_loads_rendered_rules_only_when_a_base_is_given(tmp_path: Path) -> None:
    targets = PrometheusTargets(exporters=["e:1"], responders=["r:2"], alertmanagers=["a:3"])
    assert prometheus_config(targets)["rule_files"] == [str(RULES / "*.yml")]
    config = REPO / "config" / "local.yml"
    assert LocalStack(StackOptions(config_path=config, state_dir=tmp_path)).rules_dir() == RULES
    rendered = LocalStack(StackOptions(config_path=config, state_dir=tmp_path, runbook_base_url=BASE)).rules_dir()
    assert rendered.is_relative_to(tmp_path)
    assert _alerts(rendered)["StalePendingOrders"]["annotations"]["runbook_url"] == f"{BASE}#stalependingorders"
    with pytest.raises(StackError, match="runbook base URL 'wiki/runbooks'"):
        LocalStack(StackOptions(config_path=config, state_dir=tmp_path, runbook_base_url="wiki/runbooks"))


def test_the_scripts_take_the_base_from_the_command_line(tmp_path: Path) -> None:
    out = tmp_path / "rules"
    run = [sys.executable, str(REPO / "scripts" / "render-rules.py"), "--runbook-base-url", BASE, str(out)]
    assert subprocess.run(run, capture_output=True, text=True, timeout=60).returncode == 0
    assert _alerts(out)["GhostPosition"]["annotations"]["runbook_url"] == f"{BASE}#ghostposition"
    resource = tmp_path / "prometheusrule.yaml"
    script = [sys.executable, str(REPO / "scripts" / "prometheusrule.py"), "--output", str(resource)]
    assert subprocess.run([*script, "--runbook-base-url", BASE], capture_output=True, timeout=60).returncode == 0
    groups = yaml.safe_load(resource.read_text(encoding="utf-8"))["spec"]["groups"]
    urls = {r["annotations"]["runbook_url"].split("#")[0] for g in groups for r in g["rules"] if "alert" in r}
    assert urls == {BASE}
    refused = subprocess.run([*script, "--runbook-base-url", "wiki"], capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "runbook base URL 'wiki'" in refused.stderr
