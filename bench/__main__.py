"""python -m bench: the performance figures of `make bench`, each against a fair peer, in one run.

Scenarios: scrape (stale backlog at scale vs bare SQL and prometheus-sql-exporter), ghost (1,000 broker
accounts with latency), ingest (wrk and an open-loop generator vs a bare Flask endpoint), storm (1,000
ghost alerts through Alertmanager), mitigate (ghost time-to-mitigate vs its floor). Results go to
bench/results/results.json and results.md; the table is printed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import ghost, ingest, mitigate, pg, report, scrape, storm
from bench.seed import seed
from bench.services import REPO
from bench.setup import bench_sections, local_secrets, write_config
from bench.simulator import simulator
from bench.sizes import FULL, TINY, Sizes
from common.config import load_config

SCENARIOS = ("scrape", "scrape_strategy", "ghost", "ingest", "storm", "mitigate")
SCALE_SCENARIOS = ("scrape", "scrape_strategy", "ghost", "storm")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="config/local.yml", help="the project's YAML (default: %(default)s)")
    parser.add_argument("--only", default=",".join(SCENARIOS),
                        help=f"comma list of scenarios to run (default: all of {','.join(SCENARIOS)})")
    parser.add_argument("--tiny", action="store_true", help="tiny sizes (what the pytest part runs)")
    parser.add_argument("--out", default=str(REPO / "bench" / "results"), help="results directory (%(default)s)")
    parser.add_argument("--e2e-max-age-hours", type=float, default=24.0,
                        help="use the e2e suite's time-to-mitigate when younger than this; else run the demo")
    return parser.parse_args(argv)


def machine() -> dict[str, Any]:
    load = os.getloadavg()
    return {"cpus": os.cpu_count(), "load_average_1_5_15": [round(x, 2) for x in load],
            "python": platform.python_version(), "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "tools": {name: shutil.which(name) is not None
                      for name in ("wrk", "hyperfine", "prometheus-sql-exporter", "prometheus-alertmanager")}}


def _guarded(name: str, results: dict[str, Any], action: Callable[[], dict[str, Any]]) -> None:
    started = time.monotonic()
    print(f"[bench] {name} ...", flush=True)
    try:
        results[name] = action()
    except Exception as exc:
        traceback.print_exc()
        results[name] = {"error": f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc) else ''}"}
    results[name]["wall_seconds"] = round(time.monotonic() - started, 1)
    print(f"[bench] {name} done in {results[name]['wall_seconds']} s", flush=True)


def run_scale(config: Path, workdir: Path, sizes: Sizes, wanted: set[str], results: dict[str, Any]) -> None:
    """Seed the bot DB at scale once; scrape, then the simulator on it for ghost and storm."""
    stale_after = load_config(config).bot_db.stale_after_seconds
    if "scrape_strategy" in wanted:
        _guarded("scrape_strategy", results, lambda: _scrape_strategy(stale_after, workdir, sizes))
    if not wanted & {"scrape", "ghost", "storm"}:
        return
    with ExitStack() as stack:
        bot_db = stack.enter_context(pg.temporary_database("tbbench_bot"))
        results["seed"] = {"sizes": vars(sizes.scale), **seed(bot_db, sizes.scale, workdir)}
        if "scrape" in wanted:
            _guarded("scrape", results, lambda: scrape.run(bot_db, stale_after, workdir, sizes.scrape_samples,
                                                           sizes.refresh_seconds, sizes.watch_seconds,
                                                           sizes.query_exporter))
            results["scrape"]["scale"] = vars(sizes.scale)
        if not wanted & {"ghost", "storm"}:
            return
        ledger = stack.enter_context(pg.temporary_database("tbbench_ledger"))
        sections = bench_sections(config, workdir, bot_db, ledger)
        path = write_config(workdir, sections, "scale.yml")
        env = local_secrets()
        sim = stack.enter_context(simulator(path, sections, env, workdir / "simulator.log"))
        if "ghost" in wanted:
            _guarded("ghost", results, lambda: ghost.run(path, sections, env, sim, sizes.scale.accounts,
                                                         sizes.broker_latency_ms, sizes.ghost_scrapes,
                                                         sizes.ghost_deadline_s))
        if "storm" in wanted:
            _guarded("storm", results, lambda: storm.run(path, sections, env, ledger, workdir, sizes.storm_alerts,
                                                         sim, "direct", sizes.storm_settle_s))
            second = stack.enter_context(pg.temporary_database("tbbench_ledger"))
            sections["responder"]["ledger_url"] = second
            path = write_config(workdir, sections, "scale-am.yml")
            _guarded("storm_alertmanager", results, lambda: storm.run(
                path, sections, env, second, workdir, sizes.storm_alerts, sim, "alertmanager", 0.0))


def _scrape_strategy(stale_after: float, workdir: Path, sizes: Sizes) -> dict[str, Any]:
    """The stale-backlog scrape over the strategy shape's tables, seeded at the same scale."""
    with pg.temporary_database("tbbench_strategy") as bot_db:
        seeded = seed(bot_db, sizes.scale, workdir, bot_shape="strategy")
        found = scrape.run_strategy(bot_db, stale_after, workdir, sizes.scrape_samples, sizes.query_exporter)
    return {**found, "seed": seeded, "scale": vars(sizes.scale)}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    wanted = {name.strip() for name in args.only.split(",") if name.strip()}
    unknown = wanted - set(SCENARIOS)
    if unknown:
        print(f"bench: unknown scenario(s): {', '.join(sorted(unknown))} (choose from {', '.join(SCENARIOS)})",
              file=sys.stderr)
        return 2
    problem = pg.problem()
    if problem:
        print(f"bench: {problem}", file=sys.stderr)
        return 2
    config = Path(args.config).resolve()
    sizes = TINY if args.tiny else FULL
    out = Path(args.out)
    workdir = out / "work"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    started = time.monotonic()
    results: dict[str, Any] = {"machine": machine(), "sizes": sizes.describe(), "command": _command(args)}
    if wanted & set(SCALE_SCENARIOS):
        run_scale(config, workdir, sizes, wanted, results)
    if "ingest" in wanted:
        _guarded("ingest", results, lambda: ingest.run(config, workdir / "ingest", sizes.ingest))
    if "mitigate" in wanted:
        max_age = timedelta(hours=args.e2e_max_age_hours)
        _guarded("mitigate", results, lambda: mitigate.run(config, workdir / "mitigate", max_age))
    results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    results["wall_seconds"] = round(time.monotonic() - started, 1)
    table = report.markdown(report.rows(results))
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    (out / "results.md").write_text(_markdown_file(results, table), encoding="utf-8")
    print()
    print(table)
    print(f"\n{results['wall_seconds']:.0f} s; results in {out / 'results.json'} and {out / 'results.md'}")
    errors = [name for name, result in results.items() if isinstance(result, dict) and "error" in result]
    return 1 if errors else 0


def _command(args: argparse.Namespace) -> str:
    parts = ["python -m bench", f"--config {args.config}"]
    if args.only != ",".join(SCENARIOS):
        parts.append(f"--only {args.only}")
    if args.tiny:
        parts.append("--tiny")
    return " ".join(parts)


def _markdown_file(results: dict[str, Any], table: str) -> str:
    info = results["machine"]
    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
                         check=False).stdout.strip()
    return (f"# Benchmark results\n\n`{results['command']}` at {info['started_at']} (commit {git or '?'}), "
            f"{info['cpus']} CPUs, load average {info['load_average_1_5_15']} at the start and "
            f"{info['load_average_at_end']} at the end, {results['wall_seconds']:.0f} s.\n\n{table}\n")


if __name__ == "__main__":
    sys.exit(main())
