"""A simulator per database backend, shared by the tests of this folder and reset before each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from tests.support.simulator import RunningSimulator, simulator_on_backend

SHARED_STALE_AFTER_SECONDS = 8
QUIET = {"bot_db": {"stale_after_seconds": SHARED_STALE_AFTER_SECONDS},
         "simulator": {"traffic": {"api_requests_per_second": 0, "websocket_connects_per_second": 0}}}


@pytest.fixture(scope="session", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def shared_simulator(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                     ) -> Iterator[RunningSimulator]:
    """One running simulator per backend for the whole session (starting one takes a second or two)."""
    with simulator_on_backend(request, tmp_path_factory.mktemp(f"sim-{request.param}"), **QUIET) as sim:
        yield sim


@pytest.fixture
def sim(shared_simulator: RunningSimulator) -> RunningSimulator:
    """The shared simulator, reset to its seed, with no client traffic (tests turn it on) and no broker latency."""
    shared_simulator.reset()
    shared_simulator.settings(broker_latency_ms=0, api_requests_per_second=0, websocket_connects_per_second=0)
    return shared_simulator


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as http:
        yield http
