"""Alpaca's asset facts that decide what a crypto quantity is worth acting on, and a cache of them.

``GET /v2/assets/{symbol}`` gives a crypto asset's ``min_order_size`` (an order below it is refused, so a
position below it can never be sold: dust), ``min_trade_increment`` (orders are in whole increments) and
``price_increment``. They change rarely, so `AssetDirectory` keeps every definite answer (an asset, or
"no such asset") for ``broker.crypto.asset_cache_seconds``; a failed read is not kept and is asked again
next time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sources.fields import number
from sources.instruments import Instrument, instrument


@dataclass(frozen=True)
class BrokerAsset:
    symbol: str
    asset_class: str
    min_order_size: float = 0.0  # 0 when the broker names none (equities)
    min_trade_increment: float = 0.0
    price_increment: float = 0.0
    tradable: bool = True

    @property
    def instrument(self) -> Instrument:
        return instrument(self.symbol, self.asset_class)


def _size(raw: dict[str, Any], key: str) -> float:
    found = number(raw, key)
    if found < 0:
        raise ValueError(f"{key} is negative: {found:g}")
    return found


def parse_asset(raw: dict[str, Any]) -> BrokerAsset:
    """Parse one Alpaca asset; raise ValueError naming the field that is missing or unusable."""
    symbol, asset_class = raw.get("symbol"), raw.get("class")
    if not symbol or not isinstance(symbol, str):
        raise ValueError("symbol is missing")
    if not asset_class or not isinstance(asset_class, str):
        raise ValueError("class is missing")
    return BrokerAsset(
        symbol=symbol,
        asset_class=asset_class,
        min_order_size=_size(raw, "min_order_size"),
        min_trade_increment=_size(raw, "min_trade_increment"),
        price_increment=_size(raw, "price_increment"),
        tradable=bool(raw.get("tradable", True)),
    )


Clock = Callable[[], datetime]
Fetch = Callable[[Instrument], "BrokerAsset | None"]  # None: the broker definitely has no such asset


class AssetDirectory:
    """Definite answers about assets, kept for `ttl`; thread-safe. `lookup` never raises for a failed read."""

    def __init__(self, clock: Clock, ttl: timedelta) -> None:
        self._clock = clock
        self._ttl = ttl
        self._lock = threading.Lock()
        self._known: dict[Instrument, tuple[BrokerAsset | None, datetime]] = {}

    def cached(self, wanted: Instrument) -> tuple[bool, BrokerAsset | None]:
        """(whether a fresh answer is kept, that answer)."""
        with self._lock:
            found = self._known.get(wanted)
        if found is None or self._clock() - found[1] > self._ttl:
            return False, None
        return True, found[0]

    def lookup(self, wanted: Instrument, fetch: Fetch, failures: tuple[type[Exception], ...]) -> BrokerAsset | None:
        """The asset, from the cache or `fetch`; None when there is none or it cannot be read now (`failures`)."""
        fresh, asset = self.cached(wanted)
        if fresh:
            return asset
        try:
            asset = fetch(wanted)
        except failures:
            return None
        with self._lock:
            self._known[wanted] = (asset, self._clock())
        return asset
