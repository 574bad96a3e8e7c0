"""Keep a step's lease alive while its action runs, so that a slow action is never re-claimed by another
worker."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from responder.ledger import steps
from responder.logs import log

logger = logging.getLogger(__name__)


class LeaseKeeper:
    """Renew a lease every third of its length while the action runs, so a slow action is never re-claimed."""

    def __init__(self, engine: Engine, lease: steps.Lease, seconds: float, clock: Any) -> None:
        self._engine, self._lease, self._seconds, self._clock = engine, lease, seconds, clock
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="responder-lease-keeper")

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join(5.0)

    def _run(self) -> None:
        while not self._done.wait(self._seconds / 3):
            try:
                steps.renew(self._engine, self._lease, self._clock() + timedelta(seconds=self._seconds))
            except SQLAlchemyError:
                log(logger, logging.WARNING, "lease renewal failed", step_id=self._lease.step_id)
