"""Webhook bodies recorded from a real Alertmanager (tests/responder/fixtures), replayed with unique fingerprints.

A template is a recorded body cut at each alert's fingerprint: ``parts[0] fp+"a" parts[1] fp+"b" parts[2] ...``.
The same templates feed wrk's Lua script and the open-loop generator, so both send the same bytes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.services import REPO

FIXTURES = REPO / "tests" / "responder" / "fixtures"
RECORDED = ("am-firing.json", "am-grouped.json", "am-resolved.json")  # am-truncated.json asks Alertmanager's API
MARK = "\x00fingerprint\x00"


def recorded_bodies(directory: Path = FIXTURES) -> list[dict[str, Any]]:
    return [json.loads((directory / name).read_text(encoding="utf-8"))["body"] for name in RECORDED]


def templates(bodies: list[dict[str, Any]]) -> list[list[str]]:
    """Each body as JSON text split around its alerts' fingerprints."""
    result = []
    for body in bodies:
        body = json.loads(json.dumps(body))
        for alert in body["alerts"]:
            alert["fingerprint"] = MARK
        text = json.dumps(body, separators=(",", ":"))
        result.append(text.split(json.dumps(MARK)[1:-1]))
    return result


def fill(parts: list[str], fingerprint: str) -> bytes:
    """One body: `fingerprint` plus a letter per alert ("...a", "...b")."""
    out = [parts[0]]
    for n, part in enumerate(parts[1:]):
        out += [fingerprint + chr(ord("a") + n), part]
    return "".join(out).encode()


class BodyStream:
    """Endless distinct bodies: fingerprints ``<tag><counter>`` cycling over the templates."""

    def __init__(self, parts: list[list[str]], tag: str) -> None:
        self._parts = parts
        self._tag = tag
        self._count = 0

    def next(self) -> bytes:
        self._count += 1
        return fill(self._parts[self._count % len(self._parts)], f"{self._tag}{self._count:09x}")
