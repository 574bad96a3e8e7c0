"""The factory for the action registry every responder process uses."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from responder.actions import accounts, auth, ghost, killswitch, notify, orders, profiles, rca
from responder.actions.registry import ActionSpec, Registry


def default_registry(extra: Iterable[ActionSpec[Any]] = ()) -> Registry:
    """Every built-in action, plus `extra` ones (tests, site-specific actions)."""
    return Registry(
        [
            *profiles.SPECS,
            *ghost.SPECS,
            *orders.SPECS,
            *auth.SPECS,
            *accounts.SPECS,
            *notify.SPECS,
            *rca.SPECS,
            *killswitch.SPECS,
            *extra,
        ]
    )
