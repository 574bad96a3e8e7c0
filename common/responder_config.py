"""The `responder:` section of the configuration file (see common/config.py for loading)."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from common.checks import env_name, http_url
from common.config_sections import Section, listen_address


class BudgetConfig(Section):
    max_deactivations: int = Field(5, ge=0)
    window_seconds: float = Field(3600.0, gt=0)


class NotifyConfig(Section):
    slack_webhook_url_env: str = "SLACK_WEBHOOK_URL"
    timeout_seconds: float = Field(5.0, gt=0)
    next_update_minutes: float = Field(
        30.0, gt=0, description="a notice promises its next update this far ahead, and the responder posts it then"
    )


class RetryConfig(Section):
    """Transient failures (no answer from the bot DB, the broker, a hook) are retried with backoff."""

    max_seconds: float = Field(120.0, ge=0, description="retry for at most this long after the first failure")
    initial_seconds: float = Field(1.0, gt=0, description="first backoff; doubled after each failure")
    max_interval_seconds: float = Field(15.0, gt=0, description="the backoff never exceeds this")


class SweeperConfig(Section):
    """Reconcile open runs with Alertmanager (`alertmanager_urls`): end those whose alert is gone."""

    interval_seconds: float = Field(30.0, ge=0, description="how often; 0 turns the sweeper off")
    absent_for_seconds: float = Field(
        90.0,
        ge=0,
        description="an alert missing from every answering Alertmanager this long is resolved (longer than"
        " Prometheus's 1 m resend delay: an Alertmanager that restarted has heard from Prometheus again)",
    )


class ConsoleConfig(Section):
    operators_file: Path | None = Field(None, description="YAML list of named operators (hashed secrets, Slack ids)")
    proxy_user_header: str | None = Field(None, description="identity header set by a trusted reverse proxy")
    trusted_proxies: list[str] = Field(default_factory=list, description="addresses/networks of those proxies")
    session_minutes: int = Field(480, ge=1, description="a login lasts at most this long")
    idle_minutes: int = Field(30, ge=1, description="a session unused this long must log in again")
    public_url: str | None = Field(None, description="the console's URL as people reach it (links in Slack)")
    secure_cookies: bool = Field(False, description="send the session cookie over HTTPS only")

    _check_public_url = field_validator("public_url")(lambda v: v if v is None else http_url(v))

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"not an IP address or network: {item!r}") from None
        return value

    @model_validator(mode="after")
    def _proxy_needs_trust(self) -> ConsoleConfig:
        if self.proxy_user_header and not self.trusted_proxies:
            raise ValueError("proxy_user_header needs trusted_proxies (the addresses allowed to set it)")
        return self


class SlackConfig(Section):
    signing_secret_env: str = "SLACK_SIGNING_SECRET"

    _check_env = field_validator("signing_secret_env")(env_name)


class ResponderConfig(Section):
    listen: str = "127.0.0.1:9809"
    ledger_url: str
    mode: Literal["live", "dry-run", "off"] = "live"
    playbooks: Path
    workers: int = Field(2, ge=1, le=32)
    threads: int = Field(4, ge=1, le=64)
    max_body_bytes: int = Field(1_048_576, ge=1024)
    request_read_timeout_seconds: float = Field(
        10.0, gt=0, le=300, description="a request's headers, and then its body, must arrive within this"
    )
    lease_seconds: float = Field(60.0, gt=0)
    poll_seconds: float = Field(0.5, gt=0)
    ledger_lock_timeout_seconds: float = Field(
        3.0, gt=0, le=60, description="a ledger write waits at most this for a lock, then the webhook answers 503"
    )
    ledger_statement_timeout_seconds: float = Field(
        10.0, gt=0, le=300, description="PostgreSQL statement_timeout of the ledger's sessions"
    )
    occurrence_window_seconds: float = Field(
        15.0,
        ge=0,
        le=300,
        description="firings of one fingerprint whose startsAt are closer than this are one occurrence (an HA"
        " Prometheus pair fires about one evaluation interval apart); keep it at least one evaluation interval"
        " and below every playbook alert's `for` + one evaluation interval (docs/responder.md); 0 = exact",
    )
    alertmanager_urls: list[str] = Field(default_factory=list)
    rca_dir: Path | None = None
    runbooks: Path | None = Field(
        None,
        description="docs/runbooks.md, served as HTML at GET /runbooks (where the alerts' runbook links "
        "open); null: not served",
    )
    budget: BudgetConfig = BudgetConfig()
    retry: RetryConfig = RetryConfig()
    sweeper: SweeperConfig = SweeperConfig()
    notify: NotifyConfig = NotifyConfig()
    max_close_notional: float = Field(10_000.0, ge=0)
    approval_timeout_seconds: float = Field(14_400.0, gt=0, description="an approval nobody gives expires")
    console: ConsoleConfig = ConsoleConfig()
    slack: SlackConfig = SlackConfig()

    _check_listen = field_validator("listen")(listen_address)
