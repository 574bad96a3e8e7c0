"""The pint-style quality bar for Prometheus rules, as plain functions over the rule YAML.

cloudflare/pint is not installable here, so its checks that matter for these rules are written out:
each function returns the problems it finds (empty when the rule is fine), so the tests can show both
that the committed rules pass and that every check catches what it is meant to catch.

Production assumptions (alerts/prometheus.yml): scrape interval 15s, evaluation interval 15s.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from responder.runbooks import github_anchor as github_anchor  # the anchor GitHub and GET /runbooks give a heading
from responder.runbooks import render_runbooks
from stack.render import DEFAULT_RUNBOOK_BASE_URL

SCRAPE_INTERVAL = 15.0
EVALUATION_INTERVAL = 15.0
SEVERITIES = frozenset({"sev1", "sev2", "sev3"})
NO_SEVERITY = frozenset({"Watchdog"})  # always firing, routed to the heartbeat by name
# Alerts whose `for` asks for exactly one confirming scrape: any hold above 0 and at most the evaluation
# interval fires at the second evaluation that sees the condition in production, and a shorter one keeps
# that meaning in the 1-2 s local stack (GhostPosition: the fill race is settled in the exporter).
ONE_CONFIRMING_SCRAPE = frozenset({"GhostPosition"})
REQUIRED_ANNOTATIONS = ("summary", "description", "runbook_url", "automation")
RUNBOOK = "docs/runbooks.md"
COUNTER_FUNCTIONS = ("rate", "irate", "increase", "resets")
COUNTER_SUFFIXES = ("_total", "_count", "_sum", "_bucket")
RECORDING_NAME = re.compile(r"^[a-z][a-z0-9_]*:[a-z][a-z0-9_]*:[a-z][a-z0-9_]*$")

_DURATION_PART = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_RANGE = re.compile(r"\[\s*([0-9a-z]+)\s*(?::\s*[0-9a-z]*\s*)?\]")
_COUNTER_CALL = re.compile(rf"\b({'|'.join(COUNTER_FUNCTIONS)})\s*\(\s*(?:([A-Za-z_:][\w:]*)\s*(?:\{{\}})?\s*\[)?")
_IDENTIFIER = re.compile(r"(?<![\w:.])[A-Za-z_:][\w:]*")
_COMPARISON = re.compile(r"==|!=|>=|<=|>|<")
_RAW_VALUE = re.compile(r"\$value(?!\s*\|\s*(?:humanize\w*|printf)\b)")
_VALUE_COMPARED = re.compile(r"\b(?:eq|ne|lt|le|gt|ge)\s+\$value\b")  # a template condition prints nothing


def parse_duration(text: str) -> float:
    """Seconds in a Prometheus duration such as `1m30s`; ValueError when it is not one."""
    parts = _DURATION_PART.findall(text)
    if not text or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a Prometheus duration: {text!r}")
    return sum(int(n) * _UNIT_SECONDS[u] for n, u in parts)


def strip_promql(expr: str) -> str:
    """`expr` without comments, with every string literal emptied and every label matcher list `{}`."""
    out: list[str] = []
    quote: str | None = None
    depth = 0
    comment = False
    for char in expr:
        if comment and char != "\n":
            continue
        comment = False
        if quote:
            quote = None if char == quote else quote
            continue
        if char in "\"'`":
            quote = char
            out.append('""' if depth == 0 else "")
        elif char == "#":
            comment = True
        elif char == "{":
            depth += 1
            if depth == 1:
                out.append("{}")
        elif char == "}":
            depth -= 1
        elif depth == 0:
            out.append(char)
    return "".join(out)


def promql_problems(expr: str) -> list[str]:
    """Range windows of at least 2 scrapes; counter functions on counters only; no raw counters."""
    stripped = strip_promql(expr)
    problems = []
    for match in _RANGE.finditer(stripped):
        try:
            seconds = parse_duration(match.group(1))
        except ValueError:
            problems.append(f"bad range {match.group(0)}")
            continue
        if seconds < 2 * SCRAPE_INTERVAL:
            problems.append(f"range {match.group(0)} is shorter than 2 scrape intervals ({2 * SCRAPE_INTERVAL:.0f}s)")
    for match in _COUNTER_CALL.finditer(stripped):
        function, metric = match.groups()
        if not metric or not metric.endswith(COUNTER_SUFFIXES):
            problems.append(f"{function}() on {metric or 'an expression'}, not on a counter selector")
    for match in _IDENTIFIER.finditer(stripped):
        if match.group(0).endswith("_total") and not re.search(
            rf"\b(?:{'|'.join(COUNTER_FUNCTIONS)})\s*\(\s*$", stripped[: match.start()]
        ):
            problems.append(f"counter {match.group(0)} used raw, outside {'/'.join(COUNTER_FUNCTIONS)}()")
    return problems


def alert_problems(rule: Mapping[str, Any], runbook_anchors: Iterable[str]) -> list[str]:
    """The quality bar of one alerting rule (pint's alerts/* and rule/label checks)."""
    name = str(rule["alert"])
    labels = rule.get("labels") or {}
    annotations = rule.get("annotations") or {}
    expr = str(rule["expr"])
    problems = promql_problems(expr)

    severity = labels.get("severity")
    if name in NO_SEVERITY:
        if severity is not None:
            problems.append(f"{name} must not carry a severity (it is routed by name)")
    elif severity not in SEVERITIES:
        problems.append(f"severity {severity!r} is not one of {sorted(SEVERITIES)}")
    for key, value in labels.items():
        if "$value" in str(value) or ".Value" in str(value):
            problems.append(f"label {key} uses the value: every new value would make a new alert")

    for key in REQUIRED_ANNOTATIONS:
        if not str(annotations.get(key, "")).strip():
            problems.append(f"annotation {key} missing")
    for key, value in annotations.items():
        if _RAW_VALUE.search(_VALUE_COMPARED.sub("", str(value))):
            problems.append(f"annotation {key} prints $value raw: pipe it to humanize* or printf")
    anchor = name.lower()
    if annotations.get("runbook_url") != f"{DEFAULT_RUNBOOK_BASE_URL}#{anchor}":
        problems.append(f"runbook_url must be {DEFAULT_RUNBOOK_BASE_URL}#{anchor} (its section of {RUNBOOK})")
    elif anchor not in set(runbook_anchors):
        problems.append(f"{RUNBOOK} has no section #{anchor}")

    if name not in NO_SEVERITY:
        without_matchers = strip_promql(expr)
        if not (_COMPARISON.search(without_matchers) or "absent(" in without_matchers):
            problems.append("expr does not compare: it would fire whenever the series exists")
        if re.search(r"\bbool\b", without_matchers):
            problems.append("expr compares with bool: it returns 0/1 series that always fire")

    hold = rule.get("for")
    if hold is not None:
        try:
            seconds = parse_duration(str(hold))
        except ValueError as error:
            problems.append(str(error))
        else:
            if name in ONE_CONFIRMING_SCRAPE:
                if not 0 < seconds <= EVALUATION_INTERVAL:
                    problems.append(f"for {hold} must be above 0 and at most the evaluation interval: one"
                                    " confirming scrape")
            elif seconds < EVALUATION_INTERVAL:
                problems.append(f"for {hold} is shorter than the evaluation interval")
            if "absent(" in expr and seconds < 2 * SCRAPE_INTERVAL:
                problems.append("absent() needs for >= 2 scrape intervals: a single missed scrape would fire")
    elif "absent(" in expr:
        problems.append("absent() needs for >= 2 scrape intervals: a single missed scrape would fire")
    return problems


def recording_problems(rule: Mapping[str, Any]) -> list[str]:
    """A recording rule: `level:metric:operations` name, the same PromQL bar, no labels overriding it."""
    problems = promql_problems(str(rule["expr"]))
    if not RECORDING_NAME.match(str(rule["record"])):
        problems.append(f"record {rule['record']!r} is not named level:metric:operations")
    return problems


def group_problems(group: Mapping[str, Any]) -> list[str]:
    """A group keeps the global evaluation interval: the local stack evaluates the same files faster."""
    if "interval" in group:
        return [f"group {group['name']} sets its own interval {group['interval']}"]
    return []


def markdown_anchors(markdown: str) -> set[str]:
    """The anchors of the page the responder serves at GET /runbooks (GitHub's, for each heading)."""
    return set(render_runbooks(markdown, RUNBOOK).anchors)
