"""`python -m simulator inject KIND [--option value ...]`: validate locally, then call the control API."""

from __future__ import annotations

import json
import sys
from typing import Any

import requests

from common.config import Config
from simulator.faults.options import FaultError, parse_options

DEFAULT_CONTROL_URL = "http://127.0.0.1:9804"
TIMEOUT_SECONDS = 30.0


def parse_fault_args(kind: str, tokens: list[str]) -> dict[str, Any]:
    """Turn ``--name value`` / ``--name=value`` pairs into options; a repeated name becomes a list."""
    options: dict[str, Any] = {}
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if not token.startswith("--") or len(token) == 2:
            raise FaultError(f"{kind}: unexpected argument {token!r} (options look like --name value)")
        name, has_value, value = token[2:].partition("=")
        if not has_value:
            if index + 1 >= len(tokens) or tokens[index + 1].startswith("--"):
                raise FaultError(f"{kind}: option --{name} needs a value")
            index += 1
            value = tokens[index]
        previous = options.get(name)
        if previous is None:
            options[name] = value
        else:
            options[name] = [*(previous if isinstance(previous, list) else [previous]), value]
        index += 1
    return options


def control_url_from(config: Config) -> str:
    sim = config.section("simulator")
    return f"http://{sim.host}:{sim.control_port}"


def send_fault(control_url: str, kind: str, options: dict[str, Any]) -> int:
    """POST the fault; print the answer (JSON) on stdout, or one line on stderr. Return the exit status."""
    path = "/faults/reset" if kind == "reset" else f"/faults/{kind}"
    try:
        response = requests.post(control_url.rstrip("/") + path, json=options, timeout=TIMEOUT_SECONDS)
    except requests.RequestException as exc:
        print(f"simulator inject: cannot reach the control API at {control_url}: {type(exc).__name__}",
              file=sys.stderr)
        return 1
    try:
        body = response.json()
    except ValueError:
        body = {"error": response.text[:200]}
    if response.status_code == 400:
        print(f"simulator inject: {body.get('error', 'rejected')}", file=sys.stderr)
        return 2
    if response.status_code != 200:
        print(f"simulator inject: control API answered HTTP {response.status_code}", file=sys.stderr)
        return 1
    print(json.dumps(body, indent=2, sort_keys=True))
    return 0


def run_inject(kind: str, tokens: list[str], control_url: str) -> int:
    try:
        options = parse_fault_args(kind, tokens)
        parse_options(kind, options)
    except FaultError as exc:
        print(f"simulator inject: {exc}", file=sys.stderr)
        return 2
    return send_fault(control_url, kind, options)
