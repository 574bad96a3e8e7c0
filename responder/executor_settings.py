"""How the executor runs steps: mode, leases, polling, the blast-radius budget, approvals and retries."""

from __future__ import annotations

from dataclasses import dataclass, field

from common.config import ResponderConfig, RetryConfig

# A side effect runs only when both the run was created live and this process is live: a run recorded as a
# dry run stays one when a live replica executes it, and a dry-run replica never acts for a live run.
DRY_RUN_MODE = "dry-run"


@dataclass(frozen=True)
class ExecutorSettings:
    mode: str
    lease_seconds: float
    poll_seconds: float
    max_deactivations: int
    window_seconds: float
    approval_timeout_seconds: float = 14_400.0
    console_url: str | None = None
    retry: RetryConfig = field(default_factory=RetryConfig)

    @classmethod
    def from_config(cls, config: ResponderConfig) -> ExecutorSettings:
        return cls(
            config.mode,
            config.lease_seconds,
            config.poll_seconds,
            config.budget.max_deactivations,
            config.budget.window_seconds,
            config.approval_timeout_seconds,
            config.console.public_url,
            config.retry,
        )

    def backoff(self, retries: int) -> float:
        """Seconds before the next attempt after `retries` earlier transient failures (doubling, capped)."""
        return float(min(self.retry.initial_seconds * 2 ** min(retries, 30), self.retry.max_interval_seconds))
