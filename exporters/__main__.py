"""python -m exporters: serve the trading bot's metrics on /metrics."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import signal
import sys
import threading

from common.config import ConfigError, ExportersConfig, load_config, parse_listen, split_listen
from common.logs import configure_logging
from exporters.app import Secrets, build_collector, build_registry, http_session, open_bot, probe_session
from exporters.exposition import render, start_metrics_server

log = logging.getLogger("exporters")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m exporters",
        description=(
            "Serve the stale-backlog, ghost-position and auth-failure metrics of the trading bot on /metrics. "
            "Work happens at scrape time. Secrets come from the environment: the broker secret "
            "($APCA_API_SECRET_KEY, plus one variable per key id listed in broker.account_secret_envs), "
            "the probe user ($PROBE_USER_EMAIL, $PROBE_USER_PASSWORD) and "
            "$SUPABASE_ANON_KEY; each may also be given as a file via $NAME_FILE."
        ),
    )
    parser.add_argument("--config", default="config/local.yml", help="the YAML configuration (default: %(default)s)")
    parser.add_argument("--listen", help="host:port to serve on (default: exporters.listen from the config)")
    parser.add_argument("--once", action="store_true", help="print one scrape's exposition to stdout and exit")
    parser.add_argument("--log-level", default="INFO", help="logging level (default: %(default)s)")
    return parser.parse_args(argv)


def _configure_logging(level: str) -> None:
    """Configure logging; an unknown level is a ConfigError naming the option."""
    try:
        configure_logging(level)
    except ValueError:
        raise ConfigError(f"--log-level: unknown level {level!r} (DEBUG, INFO, WARNING, ERROR or CRITICAL)") from None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        _configure_logging(args.log_level)
        config = load_config(args.config)
        section: ExportersConfig = config.section("exporters")
        host, port = parse_listen(args.listen, "--listen") if args.listen else split_listen(section.listen)
        secrets = Secrets.from_env(config, os.environ)
        bot = open_bot(config)
    except ConfigError as exc:
        print(f"exporters: {exc}", file=sys.stderr)
        return 2
    session = http_session(config.broker.max_concurrency + 8)
    collector = build_collector(config, secrets, bot, session, probe_session(8))
    registry = build_registry(collector)
    if args.once:
        sys.stdout.write(render(registry).decode())
        collector.close()
        return 0
    # Everything built so far lives as long as the process: keep it out of the cyclic GC's full passes,
    # which otherwise walk it during scrapes (p95 scrape time, docs/performance.md).
    gc.freeze()
    try:
        server, _thread = start_metrics_server(host, port, registry)
    except OSError as exc:
        print(f"exporters: cannot listen on {host}:{port}: {exc.strerror}", file=sys.stderr)
        return 2
    log.info("serving metrics on http://%s:%d/metrics", host, port)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    server.shutdown()
    collector.close()
    bot.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
