"""The Supabase auth (GoTrue) endpoints the runbook checks: health and JWT issuance."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import requests


class SupabaseError(Exception):
    """Supabase auth did not answer as expected; the message says how, `status` is 0 without an answer."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class IssuedToken:
    access_token: str = field(repr=False)
    expires_at: datetime

    def fresh(self, now: datetime, margin: timedelta = timedelta(seconds=60)) -> bool:
        return now + margin < self.expires_at


class SupabaseAuth:
    """GET /auth/v1/health and POST /auth/v1/token?grant_type=password, with timeouts."""

    def __init__(self, base_url: str, anon_key: str | None, session: requests.Session, timeout: float) -> None:
        self._base = base_url.rstrip("/")
        self._headers = {"apikey": anon_key} if anon_key else {}
        self._session = session
        self._timeout = timeout

    def health(self) -> None:
        """Raise SupabaseError unless the auth service reports itself up (it proves nothing more)."""
        try:
            response = self._session.get(f"{self._base}/auth/v1/health", headers=self._headers, timeout=self._timeout)
        except requests.RequestException as exc:
            raise SupabaseError(f"auth health unreachable: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise SupabaseError(f"auth health answered HTTP {response.status_code}", response.status_code)

    def password_grant(self, email: str, password: str, now: datetime) -> IssuedToken:
        """Issue an access token for the probe user; raise SupabaseError when none is issued."""
        try:
            response = self._session.post(
                f"{self._base}/auth/v1/token",
                params={"grant_type": "password"},
                json={"email": email, "password": password},
                headers=self._headers,
                timeout=self._timeout,
            )
        except requests.RequestException as exc:
            raise SupabaseError(f"token endpoint unreachable: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise SupabaseError(f"token endpoint answered HTTP {response.status_code}", response.status_code)
        try:
            body = response.json()
            token, expires_in = str(body["access_token"]), int(body["expires_in"])
        except (ValueError, KeyError, TypeError):
            raise SupabaseError("token endpoint answered without access_token/expires_in", 200) from None
        return IssuedToken(token, now + timedelta(seconds=expires_in))
