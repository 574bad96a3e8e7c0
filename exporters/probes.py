"""The runbook's controlled checks, run at scrape time, each with a timeout.

`health_live` and `health_ready` (bot health endpoints; `health_ready` also reads the fields of its body
that ``bot.health.degraded_fields`` names, so a 200 reporting a degraded field is seen),
`supabase_auth_health` (auth process up), `jwt_issuance` (the probe user's last sign-in attempt got a
token), `api_status_authenticated` (that token is accepted by `/api/status`) and
`api_trade_unauthenticated_rejected` (an unauthenticated, deliberately invalid `/api/trade` is answered
401/403 — it cannot trade even if the auth layer is broken).

Signing in opens a Supabase session, so `jwt_issuance` signs in at most once per issuance interval
(`exporters.issuance_interval_seconds`) — sooner when the last attempt failed or the token is about to
expire — and reports the last attempt's result in between.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from common.bot_config import HealthField
from sources.botapi import BotApi, FieldReading
from sources.supabase import IssuedToken, SupabaseAuth, SupabaseError


@dataclass(frozen=True)
class ProbeResult:
    probe: str
    success: bool
    http_status: int  # 0 when nothing answered
    seconds: float = 0.0
    fields: tuple[FieldReading, ...] = ()  # health_ready: the configured degraded fields


@dataclass(frozen=True)
class ProbeCredentials:
    email: str = field(repr=False)
    password: str = field(repr=False)


class Probes:
    """Run every probe; the authenticated check reuses the last issued token until it expires."""

    def __init__(
        self,
        bot: BotApi,
        supabase: SupabaseAuth,
        credentials: ProbeCredentials,
        clock: Callable[[], datetime],
        issuance_interval: timedelta,
        health_fields: Sequence[HealthField] = (),
    ) -> None:
        self._bot = bot
        self._health_fields = tuple(health_fields)
        self._supabase = supabase
        self._credentials = credentials
        self._clock = clock
        self._issuance_interval = issuance_interval
        self._token: IssuedToken | None = None
        self._issuance: tuple[datetime, ProbeResult] | None = None  # the last sign-in attempt: when, result
        self._lock = threading.Lock()

    def health_live(self) -> ProbeResult:
        answer = self._bot.get("/health/live")
        return ProbeResult("health_live", answer.status == 200, answer.status)

    def health_ready(self) -> ProbeResult:
        """200 is ready; the configured fields of the body say whether it is ready but degraded."""
        readiness = self._bot.readiness(self._health_fields)
        return ProbeResult("health_ready", readiness.status == 200, readiness.status, fields=readiness.fields)

    def api_trade_unauthenticated_rejected(self) -> ProbeResult:
        answer = self._bot.trade_unauthenticated()
        return ProbeResult("api_trade_unauthenticated_rejected", answer.status in (401, 403), answer.status)

    def supabase_auth_health(self) -> ProbeResult:
        try:
            self._supabase.health()
        except SupabaseError as exc:
            return ProbeResult("supabase_auth_health", False, exc.status)
        return ProbeResult("supabase_auth_health", True, 200)

    def jwt_issuance(self) -> ProbeResult:
        """Sign the probe user in when due; otherwise the last attempt's result again."""
        now = self._clock()
        with self._lock:
            if self._issuance is not None and not self._issuance_due(now, *self._issuance):
                return self._issuance[1]
        try:
            token = self._supabase.password_grant(self._credentials.email, self._credentials.password, now)
        except SupabaseError as exc:
            result = ProbeResult("jwt_issuance", False, exc.status)
        else:
            result = ProbeResult("jwt_issuance", True, 200)
        with self._lock:
            if result.success:
                self._token = token
            self._issuance = (now, result)
        return result

    def _issuance_due(self, now: datetime, attempted_at: datetime, result: ProbeResult) -> bool:
        """Due when the last attempt failed, the interval has passed (or the clock went back) or the
        token is about to expire."""
        if not result.success or not timedelta(0) <= now - attempted_at < self._issuance_interval:
            return True
        return self._token is None or not self._token.fresh(now)

    def api_status_authenticated(self) -> ProbeResult:
        with self._lock:
            token = self._token
        if token is None or not token.fresh(self._clock()):
            return ProbeResult("api_status_authenticated", False, 0)
        answer = self._bot.get("/api/status", token=token.access_token)
        return ProbeResult("api_status_authenticated", answer.status == 200, answer.status)
