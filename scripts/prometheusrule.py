"""Render alerts/rules/*.yml as one prometheus-operator PrometheusRule (deploy/kubernetes/).

    python scripts/prometheusrule.py            # write deploy/kubernetes/prometheusrule.yaml
    python scripts/prometheusrule.py --check    # exit 1 if the committed file is out of date

The rule files stay the single source of truth: their groups are copied unchanged, in file order, into
``spec.groups``. tests/deploy/test_prometheusrule.py keeps the generated file in sync.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

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


def rule_groups(rules_dir: Path = RULES) -> list[dict[str, Any]]:
    """Every group of every rule file, in file-name order."""
    groups: list[dict[str, Any]] = []
    for path in sorted(rules_dir.glob("*.yml")):
        groups.extend(yaml.safe_load(path.read_text(encoding="utf-8"))["groups"])
    return groups


def render(rules_dir: Path = RULES) -> str:
    resource = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": NAME,
            "labels": {"app.kubernetes.io/name": "tradingbot-incident-automation", "role": "alert-rules"},
        },
        "spec": {"groups": rule_groups(rules_dir)},
    }
    body = yaml.dump(resource, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120)
    return HEADER + body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only check that the file is current")
    parser.add_argument("--output", type=Path, default=TARGET, help="the file to write or check (%(default)s)")
    args = parser.parse_args(argv)
    text = render()
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
