"""The simulator as a subprocess on a bench config (broker, bot API, Supabase stand-ins, fault control)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from bench.services import Process, process, python
from stack.ports import port_open
from stack.services import child_env


@contextmanager
def simulator(config: Path, sections: dict[str, Any], env: dict[str, str], log: Path,
              timeout: float = 120.0) -> Iterator[Process]:
    sim = sections["simulator"]
    ports = [sim["broker_port"], sim["bot_port"], sim["supabase_port"], sim["control_port"]]
    with process("simulator", python("simulator", "--config", str(config), "serve"), log, child_env(env),
                 lambda: all(port_open(port) for port in ports), timeout) as running:
        yield running


def control(sections: dict[str, Any], path: str, body: dict[str, Any]) -> dict[str, Any]:
    sim = sections["simulator"]
    answer = requests.post(f"http://{sim['host']}:{sim['control_port']}{path}", json=body, timeout=60)
    answer.raise_for_status()
    result: dict[str, Any] = answer.json()
    return result
