"""How one responder process's webhook and executor threads coordinate: wake-ups for new work, and the
executors giving way to deliveries being recorded (docs/performance.md, alert storm)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

# During a delivery burst the webhook goes first: an executor thread about to claim a step waits (at most
# this long) while this process is recording deliveries, so Alertmanager's notifications are acknowledged
# within its timeout instead of queueing behind playbook steps (docs/performance.md, alert storm).
INGEST_YIELD_SECONDS = 0.5


class Wakeup:
    """Wakes this process's executor threads as soon as the process recorded new work (no lost wake-ups),
    and lets them give way to deliveries being recorded right now (bounded)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._generation = 0
        self._deliveries = 0

    @contextmanager
    def delivery(self) -> Iterator[None]:
        """Mark a webhook delivery in progress in this process."""
        with self._cond:
            self._deliveries += 1
        try:
            yield
        finally:
            with self._cond:
                self._deliveries -= 1
                if not self._deliveries:
                    self._cond.notify_all()

    def yield_to_deliveries(self, timeout: float) -> None:
        """Wait until no delivery is being recorded in this process, or `timeout` seconds."""
        with self._cond:
            self._cond.wait_for(lambda: not self._deliveries, timeout)

    def notify(self) -> None:
        with self._cond:
            self._generation += 1
            self._cond.notify_all()

    def generation(self) -> int:
        with self._cond:
            return self._generation

    def wait(self, seen: int, timeout: float) -> None:
        with self._cond:
            self._cond.wait_for(lambda: self._generation != seen, timeout)
