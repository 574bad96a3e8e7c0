"""The bot's database at scale: `python -m simulator seed` into a throwaway database, then ANALYZE
(the statistics a database in steady state has)."""

from __future__ import annotations

import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from bench import pg
from bench.services import REPO, python
from stack.render import write_yaml
from stack.services import child_env


@dataclass(frozen=True)
class ScaleSizes:
    profiles: int = 1000
    accounts: int = 1000
    orders: int = 1_000_000
    working_share: float = 0.01
    stale_share: float = 0.5

    def argv(self) -> list[str]:
        return ["--profiles", str(self.profiles), "--accounts", str(self.accounts), "--orders", str(self.orders),
                "--working-share", str(self.working_share), "--stale-share", str(self.stale_share)]


def seed(db_url: str, sizes: ScaleSizes, workdir: Path, bot_shape: str = "default") -> dict[str, float]:
    """Bulk-load the bot tables (of `bot_shape`) into `db_url`; return the simulator's counts and the seconds
    it took."""
    config = write_yaml(workdir / "seed.yml", {
        "bot_db": {"url": db_url, "stale_after_seconds": 300},
        "broker": {"base_url": "http://127.0.0.1:9"},
        "bot": {"base_url": "http://127.0.0.1:9", "access_log": str(workdir / "seed-access.log")},
        "supabase": {"url": "http://127.0.0.1:9"},
    })
    started = time.perf_counter()
    done = subprocess.run(python("simulator", "seed", "--config", str(config), *sizes.argv(),
                                 "--bot-shape", bot_shape), cwd=REPO,
                          env=child_env({}), capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"seeding failed: {done.stderr.strip()[-2000:]}")
    counts = {key: float(value) for key, value in re.findall(r"(\w+)=([\d.]+)", done.stdout)}
    with psycopg.connect(pg.conninfo(db_url), autocommit=True) as conn:
        conn.execute("ANALYZE")
    counts["seconds_with_analyze"] = round(time.perf_counter() - started, 1)
    return counts
