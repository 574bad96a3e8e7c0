"""Client traffic: real HTTP requests to the bot API so the access log has a steady denominator.

Clients call ``/api/status`` and connect to ``/ws`` with valid tokens, taking turns, each from its own
address (``X-Forwarded-For``, as a proxy in front of the bot reports it). An ``auth-failures`` fault (scope
``clients``) makes exactly its share of the requests on its channel use a bad token (error diffusion, not
dice, so short windows are accurate), from every client or only the first ``clients`` of them;
``insufficient-funds`` adds valid trades.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

import requests

from simulator.faults.options import AuthFailuresOptions
from simulator.supabase.tokens import ACCESS_TOKEN_SECONDS, User
from simulator.world import Simulator

log = logging.getLogger("simulator.traffic")
TICK_SECONDS = 0.05
REFRESH_MARGIN = timedelta(seconds=60)
MAX_BURST = 50
REQUEST_TIMEOUT = (1.0, 3.0)
TRADE_EVERY = 2  # while insufficient-funds is active: one trade per this many status calls
CLIENT_USER_AGENT = "tradingbot-dashboard/1.0 (simulated client)"
IOC_TRADE = {"symbol": "AAPL", "qty": "1", "side": "buy", "type": "limit", "time_in_force": "ioc",
             "limit_price": "1.00"}


def client_address(index: int) -> str:
    """The address simulated client `index` connects from."""
    return f"10.0.0.{index + 1}"


class TrafficGenerator:
    def __init__(self, world: Simulator, bot_url: str, session: requests.Session) -> None:
        self._world = world
        self._bot = bot_url.rstrip("/")
        self._session = session
        self._debt = {"api": 0.0, "websocket": 0.0}
        self._bad_share_debt = {"api": 0.0, "websocket": 0.0}
        self._tokens: dict[str, tuple[str, datetime]] = {}
        self._sent = 0

    def _client_index(self) -> int:
        return self._sent % len(self._world.clients)

    def _client(self) -> User:
        return self._world.clients[self._client_index()]

    def _valid_token(self, user: User) -> str:
        now = self._world.clock()
        cached = self._tokens.get(user.id)
        if cached and cached[1] > now + REFRESH_MARGIN:
            return cached[0]
        token = self._world.tokens.issue(user, now)
        self._tokens[user.id] = (token, now + timedelta(seconds=ACCESS_TOKEN_SECONDS))
        return token

    def token_for(self, channel: str) -> str | None:
        """A valid token, or a bad one for exactly the fault's share of this channel's requests."""
        user = self._client()
        fault = self._world.faults.get("auth-failures", AuthFailuresOptions)
        if fault is None or fault.scope != "clients" or fault.channel not in (channel, "both"):
            self._bad_share_debt[channel] = 0.0
            return self._valid_token(user)
        if fault.clients is not None and self._client_index() >= fault.clients:
            return self._valid_token(user)
        self._bad_share_debt[channel] += fault.share
        if self._bad_share_debt[channel] < 1.0 - 1e-9:
            return self._valid_token(user)
        self._bad_share_debt[channel] -= 1.0
        return self._world.tokens.bad_token(fault.reason, user, self._world.clock())

    def _headers(self, token: str | None) -> dict[str, str]:
        headers = {"User-Agent": CLIENT_USER_AGENT, "X-Forwarded-For": client_address(self._client_index())}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def send_api(self) -> None:
        self._sent += 1
        self._session.get(f"{self._bot}/api/status", headers=self._headers(self.token_for("api")),
                          timeout=REQUEST_TIMEOUT)
        if self._world.faults.is_active("insufficient-funds") and self._sent % TRADE_EVERY == 0:
            token = self._valid_token(self._client())
            self._session.post(f"{self._bot}/api/trade", json=IOC_TRADE, headers=self._headers(token),
                               timeout=REQUEST_TIMEOUT)

    def send_websocket(self) -> None:
        self._sent += 1
        token = self.token_for("websocket")
        params = {"token": token} if token else {}
        self._session.get(f"{self._bot}/ws", params=params, headers=self._headers(None), timeout=REQUEST_TIMEOUT)

    def _due(self, channel: str, rate: float, elapsed: float) -> int:
        self._debt[channel] = min(self._debt[channel] + rate * elapsed, float(MAX_BURST))
        due = int(self._debt[channel])
        self._debt[channel] -= due
        return due

    def tick(self, elapsed: float) -> None:
        settings = self._world.settings
        for _ in range(self._due("api", settings.api_requests_per_second, elapsed)):
            self.send_api()
        for _ in range(self._due("websocket", settings.websocket_connects_per_second, elapsed)):
            self.send_websocket()

    def run(self) -> None:
        """Send the configured rates until the simulator stops; failed requests are only logged."""
        last = time.monotonic()
        while not self._world.stop.wait(TICK_SECONDS):
            now = time.monotonic()
            elapsed, last = min(now - last, 1.0), now
            try:
                self.tick(elapsed)
            except requests.RequestException as exc:
                log.debug("client request failed: %s", type(exc).__name__)
