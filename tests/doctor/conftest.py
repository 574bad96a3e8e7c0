"""`python -m doctor` against the running simulator (its bot, broker and Supabase over real HTTP) on a real
bot database, SQLite and PostgreSQL."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from doctor.cli import main
from tests.support.simulator import RunningSimulator, merge, simulator_on_backend, write_config

LOG_WAIT_SECONDS = 10.0


@dataclass(frozen=True)
class Outcome:
    code: int
    output: str

    @property
    def last_line(self) -> str:
        return self.output.strip().splitlines()[-1]

    def row(self, check: str) -> str:
        """The table row of `check` (its first row when there are several)."""
        return next(line for line in self.output.splitlines() if line.startswith(check + " "))


def run_doctor(config: Path, env: dict[str, str], *extra: str) -> Outcome:
    out = io.StringIO()
    code = main(["--config", str(config), *extra], env=env, out=out)
    return Outcome(code, out.getvalue())


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def doctor_sim(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSimulator]:
    """One simulator per backend and test module, with some client traffic in its access log."""
    with simulator_on_backend(request, tmp_path_factory.mktemp(f"doctor-{request.param}")) as running:
        wait_for_access_log(running)
        yield running


def wait_for_access_log(running: RunningSimulator) -> None:
    """Until the client traffic has written something to the access log (bounded)."""
    deadline = time.monotonic() + LOG_WAIT_SECONDS
    while not (running.access_log.is_file() and running.access_log.stat().st_size) and time.monotonic() < deadline:
        time.sleep(0.1)


def config_with(sim: RunningSimulator, tmp_path: Path, **overrides: Any) -> Path:
    """The simulator's configuration with `overrides` deep-merged in, written next to the test."""
    sections = yaml.safe_load(sim.config_path.read_text(encoding="utf-8"))
    return write_config(tmp_path / "doctor.yml", merge(sections, overrides))
