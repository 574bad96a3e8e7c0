"""Run the four loopback servers and the background loops in one process until told to stop."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable
from contextlib import suppress

import requests
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from simulator.bot.app import create_bot_app
from simulator.bot.strategy import CryptoStrategy
from simulator.bot.sync import OrderStatusSync
from simulator.bot.traffic import TrafficGenerator
from simulator.broker.app import create_broker_app
from simulator.faults.control import create_control_app
from simulator.supabase.app import create_supabase_app
from simulator.world import Simulator

log = logging.getLogger("simulator")
JOIN_SECONDS = 5.0


class QuietRequestHandler(WSGIRequestHandler):
    """No per-request log lines: the bot keeps its own access log."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


def broker_request_handler(world: Simulator) -> type[WSGIRequestHandler]:
    """A handler that drops the connection without answering while a ``connection`` outage applies."""

    class BrokerRequestHandler(QuietRequestHandler):
        def run_wsgi(self) -> None:
            account = world.book.account_for_key(self.headers.get("APCA-API-KEY-ID", ""))
            outage = world.faults.broker_outage_for(account)
            if outage is not None and outage.mode == "connection":
                self.close_connection = True
                with suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
                return
            super().run_wsgi()

    return BrokerRequestHandler


def build_servers(world: Simulator) -> dict[str, BaseWSGIServer]:
    """Bind all four servers (raises OSError when a port is taken)."""
    sim, host = world.sim, world.sim.host
    return {
        "broker": make_server(host, sim.broker_port, create_broker_app(world), threaded=True,
                              request_handler=broker_request_handler(world)),
        "bot": make_server(host, sim.bot_port, create_bot_app(world), threaded=True,
                           request_handler=QuietRequestHandler),
        "supabase": make_server(host, sim.supabase_port, create_supabase_app(world), threaded=True,
                                request_handler=QuietRequestHandler),
        "control": make_server(host, sim.control_port, create_control_app(world), threaded=True,
                               request_handler=QuietRequestHandler),
    }


def _daemon(name: str, target: Callable[[], object]) -> threading.Thread:
    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    return thread


def serve(world: Simulator, servers: dict[str, BaseWSGIServer]) -> None:
    """Serve until `world.stop` is set, then shut everything down (bounded)."""
    threads = [
        _daemon(f"http-{name}", lambda server=server: server.serve_forever(poll_interval=0.05))  # type: ignore[misc]
        for name, server in servers.items()
    ]
    session = requests.Session()
    threads.append(_daemon("order-sync", OrderStatusSync(world).run))
    threads.append(_daemon("client-traffic", TrafficGenerator(world, world.url(world.sim.bot_port), session).run))
    threads.append(_daemon("crypto-strategy", CryptoStrategy(world).run))
    for name, server in servers.items():
        log.info("simulator %s listening on http://%s:%d", name, server.host, server.port)
    while not world.stop.wait(0.1):
        pass
    log.info("simulator stopping")
    world.delayed.cancel_all()
    for server in servers.values():
        server.shutdown()
        server.server_close()
    for thread in threads:
        thread.join(JOIN_SECONDS)
    session.close()
    world.close()
