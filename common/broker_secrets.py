"""The broker API secret of each key id: one resolver shared by the exporters, the responder and the simulator.

Every Alpaca key id has its own secret. `broker.account_secret_envs` maps a key id to the environment
variable holding its secret; a key id not listed uses `broker.secret_env`. A listed key id never falls
back to the default secret: a wrong secret must fail that account's reads, not be guessed at.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from common.config import BrokerConfig, read_secret


@dataclass(frozen=True)
class BrokerSecrets:
    """Secret values by key id (the repr never shows them)."""

    default: str | None = field(default=None, repr=False)
    by_key_id: Mapping[str, str | None] = field(default_factory=dict, repr=False)

    def for_key(self, key_id: str) -> str | None:
        """The secret for `key_id`: its own when configured, else the default; None when not set."""
        if key_id in self.by_key_id:
            return self.by_key_id[key_id]
        return self.default


def read_broker_secrets(broker: BrokerConfig, env: Mapping[str, str] | None, *, required: bool) -> BrokerSecrets:
    """Read the default and every per-key-id secret; with `required`, a missing one is a ConfigError naming it."""
    return BrokerSecrets(
        default=read_secret(broker.secret_env, env, required=required),
        by_key_id={
            key_id: read_secret(name, env, required=required) for key_id, name in broker.account_secret_envs.items()
        },
    )
