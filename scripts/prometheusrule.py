"""Render alerts/rules/*.yml as one prometheus-operator PrometheusRule (deploy/kubernetes/).

    python scripts/prometheusrule.py            # write deploy/kubernetes/prometheusrule.yaml
    python scripts/prometheusrule.py --check    # exit 1 if the committed file is out of date
    python scripts/prometheusrule.py --runbook-base-url https://docs.example/runbooks.md --output my.yaml

The rule files stay the single source of truth: their groups are copied unchanged, in file order, into
``spec.groups`` (with `--runbook-base-url`, their runbook links point there instead; docs/alerting.md).
tests/deploy/test_prometheusrule.py keeps the generated file in sync.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

from stack.render import RunbookBaseError, with_runbook_base

REPO = Path(__file__).resolve().parents[1]
RULES = REPO / "alerts" / "rules"
TARGET = REPO / "deploy" / "kubernetes" / "prometheusrule.yaml"
HEADER = "# Generated from alerts/rules/*.yml by `make prometheusrule`; edit the rule files, not this file.\n"
NAME = "tradingbot-incidents"


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (PromQL, descriptions) as literal blocks, so the file reads like the rule files."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def rule_groups(rules_dir: Path = RULES, runbook_base_url: str | None = None) -> list[dict[str, Any]]:
    """Every group of every rule file, in file-name order (runbook links on `runbook_base_url` if given)."""
    groups: list[dict[str, Any]] = []
    for path in sorted(rules_dir.glob("*.yml")):
        text = path.read_text(encoding="utf-8")
        if runbook_base_url is not None:
            text = with_runbook_base(text, runbook_base_url)
        groups.extend(yaml.safe_load(text)["groups"])
    return groups


def render(rules_dir: Path = RULES, runbook_base_url: str | None = None) -> str:
    resource = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": NAME,
            "labels": {"app.kubernetes.io/name": "tradingbot-incident-automation", "role": "alert-rules"},
        },
        "spec": {"groups": rule_groups(rules_dir, runbook_base_url)},
    }
    body = yaml.dump(resource, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120)
    return HEADER + body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only check that the file is current")
    parser.add_argument("--output", type=Path, default=TARGET, help="the file to write or check (%(default)s)")
    parser.add_argument("--runbook-base-url", help="where the runbook links point (default: the rule files' base)")
    args = parser.parse_args(argv)
    try:
        text = render(runbook_base_url=args.runbook_base_url)
    except RunbookBaseError as exc:
        parser.error(str(exc))
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is out of date: run `make prometheusrule`", file=sys.stderr)
            return 1
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
