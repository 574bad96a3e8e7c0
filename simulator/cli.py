"""Command line: ``python -m simulator [--config FILE] [serve | inject KIND ... | seed ...]``."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Literal, get_args, get_origin

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from common.config import Config, ConfigError, load_config
from common.db import describe_url, make_engine, normalise_url
from simulator.bot.scale import ScalePlan, scale_seed
from simulator.bot.seed import ensure_seeded
from simulator.bot.shapes import SHAPE_NAMES
from simulator.bot.shapes.scale import scale_seed_strategy
from simulator.broker.book_load import load_book
from simulator.faults.cli import DEFAULT_CONTROL_URL, control_url_from, run_inject
from simulator.faults.options import KINDS, OPTION_MODELS
from simulator.secrets import load_secrets
from simulator.server import build_servers, serve
from simulator.timeutil import utc_now
from simulator.world import build_simulator

DEFAULT_CONFIG = "config/local.yml"
log = logging.getLogger("simulator")


def _fault_help() -> str:
    lines = ["fault kinds and their options:"]
    for kind in KINDS:
        model = OPTION_MODELS[kind]
        lines.append(f"  {kind}: {model.__doc__ or ''}".rstrip())
        for name, field in model.model_fields.items():
            default = field.get_default(call_default_factory=True)
            choices = get_args(field.annotation) if get_origin(field.annotation) is Literal else ()
            values = f" {{{'|'.join(map(str, choices))}}}" if choices else ""
            shown = f" [default: {default}]" if default not in (None, []) else ""
            lines.append(f"      --{name.replace('_', '-')}{values}: {field.description}{shown}")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m simulator",
        description="Stand-in broker (Alpaca REST), trading-bot API and Supabase auth, with fault injection.",
    )
    parser.add_argument("--config", help=f"YAML config file (default {DEFAULT_CONFIG})")
    parser.add_argument("--broker-latency-ms", type=float, default=0.0,
                        help="artificial latency added to every broker request (serve; default 0)")
    parser.add_argument("--bot-shape", choices=SHAPE_NAMES,
                        help="how the bot stores its data (default: simulator.bot_shape of the config, else "
                             "default = today's schema; docs/simulator.md); use config/shapes/NAME.yml with it")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="log level of the simulator's own log on stderr (default INFO)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve_cmd = commands.add_parser("serve", help="serve the broker, bot API, Supabase auth and control API (default)")
    serve_cmd.add_argument("--config", default=argparse.SUPPRESS, help="YAML config file")
    serve_cmd.add_argument("--broker-latency-ms", type=float, default=argparse.SUPPRESS,
                           help="artificial latency added to every broker request")
    serve_cmd.add_argument("--bot-shape", choices=SHAPE_NAMES, default=argparse.SUPPRESS,
                           help="how the bot stores its data (docs/simulator.md)")
    inject = commands.add_parser(
        "inject", help="inject a fault into a running simulator", allow_abbrev=False, epilog=_fault_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        usage="python -m simulator inject KIND [--option value ...] [--control-url URL | --config FILE]",
    )
    inject.add_argument("kind", metavar="KIND", help=f"one of: {', '.join(KINDS)}")
    inject.add_argument("--control-url", help=f"control API URL (default: from --config, else {DEFAULT_CONTROL_URL})")
    inject.add_argument("--config", default=argparse.SUPPRESS, help="YAML config file to find the control port in")
    _seed_parser(commands)
    return parser


def _seed_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    seed = commands.add_parser("seed", help="drop, recreate and bulk-load the bot tables (benchmarks)")
    seed.add_argument("--config", default=argparse.SUPPRESS, help="YAML config file (bot_db.url is used)")
    seed.add_argument("--bot-shape", choices=("default", "strategy"), default=argparse.SUPPRESS,
                      help="the tables to load: today's (default) or the strategy shape's")
    seed.add_argument("--profiles", type=int, default=1000, help="profiles (default 1000)")
    seed.add_argument("--accounts", type=int, default=1000, help="broker accounts (default 1000)")
    seed.add_argument("--orders", type=int, default=1_000_000, help="orders (default 1000000)")
    seed.add_argument("--working-share", type=float, default=0.01, help="share of orders working (default 0.01)")
    seed.add_argument("--stale-share", type=float, default=0.5, help="share of working orders stale (default 0.5)")
    seed.add_argument("--symbols", default="AAPL,MSFT,TSLA,NVDA,AMZN", help="comma list of symbols")
    seed.add_argument("--rng-seed", type=int, default=7, help="random seed (default 7)")


def ensure_sqlite_directory(url: str) -> None:
    """SQLite creates the database file but not its directory: create that."""
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(str(parsed.database)).parent.mkdir(parents=True, exist_ok=True)


def _serve(config: Config, latency_ms: float, shape: str | None) -> int:
    secrets = load_secrets(config)
    ensure_sqlite_directory(config.bot_db.url)
    try:
        world = build_simulator(config, secrets, bot_shape_name=shape)
    except ValueError as exc:
        print(f"simulator: simulator.bot_shape: {exc}", file=sys.stderr)
        return 2
    world.settings.broker_latency_ms = latency_ms
    try:
        seeded = ensure_seeded(world.engine, world.sim.seed, world.clock())
        loaded = load_book(world.engine, world.book)
        if world.mirror is not None:
            log.info("bot shape %s: its tables written %s", world.mirror.shape.name, world.publish(rebuild=True))
    except SQLAlchemyError as exc:
        print(f"simulator: bot database {describe_url(config.bot_db.url)}: {str(exc).splitlines()[0]}",
              file=sys.stderr)
        return 1
    log.info("bot database %s (%s); broker state %s", describe_url(config.bot_db.url),
             f"seeded {seeded}" if seeded else "kept existing rows", loaded)
    try:
        servers = build_servers(world)
    except OSError as exc:
        print(f"simulator: cannot listen on {world.sim.host}: {exc.strerror}", file=sys.stderr)
        return 1
    _install_signal_handlers(world.stop)
    serve(world, servers)
    return 0


def _install_signal_handlers(stop: threading.Event) -> None:
    """SIGTERM and SIGINT ask the servers to stop; the main loop then shuts down within seconds."""
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda _signum, _frame: stop.set())


def _seed(config: Config, args: argparse.Namespace) -> int:
    symbols = tuple(s.strip() for s in str(args.symbols).split(",") if s.strip())
    if args.profiles < 1 or args.accounts < 1 or args.orders < 0 or not symbols:
        print("simulator seed: --profiles and --accounts must be >= 1, --orders >= 0, --symbols non-empty",
              file=sys.stderr)
        return 2
    if not (0 <= args.working_share <= 1 and 0 <= args.stale_share <= 1):
        print("simulator seed: --working-share and --stale-share must be between 0 and 1", file=sys.stderr)
        return 2
    plan = ScalePlan(args.profiles, args.accounts, args.orders, args.working_share, args.stale_share, symbols,
                     config.bot_db.stale_after_seconds, args.rng_seed)
    shape = args.bot_shape or (config.simulator.bot_shape if config.simulator else "default")
    if shape not in ("default", "strategy"):
        print(f"simulator seed: --bot-shape {shape}: bulk seeding knows the default and strategy shapes",
              file=sys.stderr)
        return 2
    ensure_sqlite_directory(config.bot_db.url)
    engine = make_engine(config.bot_db.url)
    try:
        seeder = scale_seed_strategy if shape == "strategy" else scale_seed
        result = seeder(engine, plan, utc_now())
    finally:
        engine.dispose()
    print(" ".join(f"{key}={value}" for key, value in result.items()))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    if extras and args.command != "inject":
        parser.error(f"unrecognized arguments: {' '.join(extras)}")
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    try:
        if args.command == "inject":
            url = args.control_url or (control_url_from(load_config(args.config)) if args.config else None)
            return run_inject(args.kind, extras, url or DEFAULT_CONTROL_URL)
        config = load_config(Path(args.config or DEFAULT_CONFIG))
        if args.command == "seed":
            return _seed(config, args)
        config.section("simulator")
        return _serve(config, args.broker_latency_ms, args.bot_shape)
    except ConfigError as exc:
        print(f"simulator: {exc}", file=sys.stderr)
        return 2
