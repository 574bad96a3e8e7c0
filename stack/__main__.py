"""python -m stack run|demo: the whole system on one machine (what `make run` and `make demo` call)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path

import requests

from common.config import ConfigError
from sources.botdata import open_bot_data
from stack.demo import Demo
from stack.local import LocalStack, StackOptions
from stack.observe import Observer
from stack.secrets import load_or_create_secrets
from stack.services import StackError

REPO = Path(__file__).resolve().parents[1]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m stack", description=__doc__)
    parser.add_argument(
        "command",
        choices=["run", "demo", "secrets"],
        help="run: until Ctrl-C; demo: inject, watch, report; secrets: write <state-dir>/secrets.env, print its path",
    )
    parser.add_argument(
        "--config", help="the YAML (default: config/local.yml, or config/shapes/NAME.yml with --bot-shape)"
    )
    parser.add_argument(
        "--bot-shape", metavar="NAME", help="the simulated bot's shape (docs/simulator.md): default, strategy, boolean"
    )
    parser.add_argument("--state-dir", default=str(REPO / "var" / "stack"), help="data, logs, secrets")
    parser.add_argument("--prometheus-port", type=int, default=9090)
    parser.add_argument("--alertmanager-port", type=int, default=9093, help="the people's Alertmanager")
    parser.add_argument(
        "--automation-alertmanager-port", type=int, default=9095, help="the responder's Alertmanager (no inhibitions)"
    )
    parser.add_argument("--sink-port", type=int, default=9805, help="PagerDuty/Slack/ticket stand-ins")
    parser.add_argument("--interval", type=float, default=2.0, help="scrape and evaluation interval, seconds")
    parser.add_argument("--timeout", type=float, default=300.0, help="demo: give up after this many seconds")
    parser.add_argument("--fresh", action="store_true", help="run: forget the previous run's data first")
    parser.add_argument("--races", type=int, default=30,
                        help="demo: fill races run beside the incidents, none of which may page (default 30)")
    parser.add_argument(
        "--runbook-base-url",
        help="where the alerts' runbook links point (docs/runbooks.md served there; default: the committed rules')",
    )
    return parser.parse_args(argv)


def config_path(given: str | None, bot_shape: str | None) -> Path:
    """The config named, else the shape's own (config/shapes/NAME.yml), else config/local.yml."""
    if given:
        return Path(given).resolve()
    if bot_shape and bot_shape != "default":
        return REPO / "config" / "shapes" / f"{bot_shape}.yml"
    return REPO / "config" / "local.yml"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.command == "secrets":
        path = Path(args.state_dir).resolve() / "secrets.env"
        load_or_create_secrets(path)
        print(path)
        return 0
    options = StackOptions(
        config_path=config_path(args.config, args.bot_shape),
        bot_shape=args.bot_shape,
        state_dir=Path(args.state_dir).resolve(),
        prometheus_ports=(args.prometheus_port,),
        alertmanager_ports=(args.alertmanager_port,),
        automation_alertmanager_ports=(args.automation_alertmanager_port,),
        sink_port=args.sink_port,
        interval_seconds=args.interval,
        fresh=args.fresh or args.command == "demo",
        runbook_base_url=args.runbook_base_url,
    )
    try:
        stack = LocalStack(options)
        print(f"starting the stack (logs in {options.state_dir / 'logs'}) ...", flush=True)
        with stack:
            _print_urls(stack)
            return run(stack) if args.command == "run" else demo(stack, args.timeout, args.interval, args.races)
    except (ConfigError, StackError) as exc:
        print(f"stack: {exc}", file=sys.stderr)
        return 2


def _print_urls(stack: LocalStack) -> None:
    width = max(len(name) for name, _ in stack.urls.table())
    for name, url in stack.urls.table():
        print(f"  {name.ljust(width)}  {url}")
    print(f"  {'secrets (local only)'.ljust(width)}  {stack.state / 'secrets.env'}")
    logins = ", ".join(f"{name} / {password}" for name, password in stack.operator_logins.items())
    print(f"  {'console logins'.ljust(width)}  {logins} (two operators: the two-person rule)", flush=True)


def run(stack: LocalStack) -> int:
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    print("running; inject faults with `.venv/bin/python -m simulator inject KIND` (Ctrl-C stops)", flush=True)
    while not stop.wait(2.0):
        stack.group.check_alive()
    print("\nstopping ...", flush=True)
    return 0


def demo(stack: LocalStack, timeout: float, interval: float, races: int = 30) -> int:
    bot = open_bot_data(stack.config.bot_db)
    with requests.Session() as session:
        observer = stack.observer(bot, session)
        _wait_for_targets(observer, 1 + len(stack.urls.responders), timeout=60)
        show = Demo(observer, stack.urls.simulator_control, races=races)
        show.note("stack up: Prometheus scrapes the exporters and the responder")
        show.inject_all()
        finished = show.watch(timeout)
        print()
        print(show.report(interval))
    bot.dispose()
    if not finished:
        print("demo FAILED: not every incident was detected and mitigated (and every fill race run) in time",
              file=sys.stderr)
    return 0 if finished and show.succeeded else 1


def _wait_for_targets(observer: Observer, expected: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while observer.targets_up() < expected:
        if time.monotonic() > deadline:
            raise StackError("Prometheus does not see the exporters and the responder up")
        time.sleep(0.5)


if __name__ == "__main__":
    sys.exit(main())
