"""Which faults are active, plus the run-time settings; shared by every surface, thread-safe."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from typing import Any, TypeVar

from simulator.faults.options import (
    AuthFailuresOptions,
    BrokerOutageOptions,
    FaultOptions,
    InsufficientFundsOptions,
)

T = TypeVar("T", bound=FaultOptions)


@dataclass
class RuntimeSettings:
    """Knobs the control API can turn while the simulator runs."""

    broker_latency_ms: float = 0.0
    api_requests_per_second: float = 0.0
    websocket_connects_per_second: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return {
            "broker_latency_ms": self.broker_latency_ms,
            "api_requests_per_second": self.api_requests_per_second,
            "websocket_connects_per_second": self.websocket_connects_per_second,
        }


class FaultState:
    """Active faults by kind, the bot orders a fault holds stuck, and a seeded coin for shares."""

    def __init__(self, rng: random.Random) -> None:
        self._lock = threading.Lock()
        self._rng = rng
        self._active: dict[str, FaultOptions] = {}
        self._stuck_orders: set[str] = set()

    def activate(self, kind: str, options: FaultOptions) -> None:
        with self._lock:
            self._active[kind] = options

    def deactivate(self, kind: str) -> bool:
        with self._lock:
            return self._active.pop(kind, None) is not None

    def clear(self) -> None:
        with self._lock:
            self._active.clear()
            self._stuck_orders.clear()

    def get(self, kind: str, model: type[T]) -> T | None:
        with self._lock:
            options = self._active.get(kind)
        return options if isinstance(options, model) else None

    def is_active(self, kind: str) -> bool:
        with self._lock:
            return kind in self._active

    def describe(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {kind: options.model_dump(mode="json") for kind, options in sorted(self._active.items())}

    def hold_stuck(self, order_ids: list[str]) -> None:
        """Mark bot orders the order-status sync must leave alone (their updates never arrive)."""
        with self._lock:
            self._stuck_orders.update(order_ids)

    def release_stuck(self, order_ids: list[str]) -> None:
        with self._lock:
            self._stuck_orders.difference_update(order_ids)

    def stuck_orders(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._stuck_orders)

    def chance(self, share: float) -> bool:
        """True with probability `share` (1.0 always, thread-safe)."""
        if share >= 1.0:
            return True
        with self._lock:
            return self._rng.random() < share

    def broker_outage_for(self, account: str | None) -> BrokerOutageOptions | None:
        """The broker outage that hits this request, if any (accounts subset and share applied)."""
        outage = self.get("broker-outage", BrokerOutageOptions)
        if outage is None:
            return None
        if outage.accounts is not None and account not in outage.accounts:
            return None
        return outage if self.chance(outage.share) else None

    def insufficient_funds(self) -> bool:
        fault = self.get("insufficient-funds", InsufficientFundsOptions)
        return fault is not None and self.chance(fault.share)

    def auth_broken_for_all(self) -> bool:
        """True while a botched key rotation makes the bot reject every token."""
        fault = self.get("auth-failures", AuthFailuresOptions)
        return fault is not None and fault.scope == "all"
