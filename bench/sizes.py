"""How big each scenario is: the full run (`make bench`) and the tiny one (the pytest part)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from bench.ingest import IngestSizes
from bench.seed import ScaleSizes


@dataclass(frozen=True)
class Sizes:
    scale: ScaleSizes = field(default_factory=ScaleSizes)
    scrape_samples: int = 40
    refresh_seconds: float = 1.0  # the sql-exporter's interval while it is watched
    watch_seconds: float = 10.0
    query_exporter: bool = True  # the Python peer (installed into its own venv on first use)
    broker_latency_ms: float = 50.0
    ghost_scrapes: int = 10
    ghost_deadline_s: float = 3.0  # the pass deadline for the ghost scrape: the target itself
    storm_alerts: int = 1000
    storm_settle_s: float = 240.0
    ingest: IngestSizes = field(default_factory=IngestSizes)

    def describe(self) -> dict[str, Any]:
        return asdict(self)


FULL = Sizes()
TINY = Sizes(
    scale=ScaleSizes(profiles=20, accounts=10, orders=5_000),
    scrape_samples=5,
    refresh_seconds=0.5,
    watch_seconds=1.5,
    query_exporter=False,
    broker_latency_ms=20.0,
    ghost_scrapes=2,
    storm_alerts=20,
    storm_settle_s=60.0,
    ingest=IngestSizes(seconds=1.0, rounds=1, connections=4, rate=50.0, rate_seconds=2.0, stalled=20),
)
