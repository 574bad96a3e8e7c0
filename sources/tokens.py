"""Supabase access tokens: read their claims for diagnosis without keeping the token itself."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt


@dataclass(frozen=True)
class TokenClaims:
    """The claims the runbook asks for (issuer, audience, expiry, user id), plus role and algorithm."""

    fingerprint: str
    issuer: str | None
    audience: str | None
    expires_at: datetime | None
    subject: str | None
    role: str | None
    algorithm: str | None

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    def as_dict(self) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "iss": self.issuer,
            "aud": self.audience,
            "exp": self.expires_at.isoformat() if self.expires_at else None,
            "sub": self.subject,
            "role": self.role,
            "alg": self.algorithm,
        }


def token_fingerprint(token: str) -> str:
    """A short, non-reversible identifier for a token, safe to store and compare."""
    return "sha256:" + hashlib.sha256(token.encode("utf-8")).hexdigest()[:16]


def decode_claims(token: str) -> TokenClaims | None:
    """Decode a JWT's claims WITHOUT verifying it; None when it is not a JWT at all."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        return None
    audience = claims.get("aud")
    if isinstance(audience, list):
        audience = ",".join(str(a) for a in audience)
    return TokenClaims(
        fingerprint=token_fingerprint(token),
        issuer=_text(claims.get("iss")),
        audience=_text(audience),
        expires_at=_expiry(claims.get("exp")),
        subject=_text(claims.get("sub")),
        role=_text(claims.get("role")),
        algorithm=_text(header.get("alg")),
    )


def _expiry(exp: Any) -> datetime | None:
    """The `exp` claim as a UTC time; None when it is missing, not a number or out of range."""
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        return None
    try:
        return datetime.fromtimestamp(exp, UTC)
    except (ValueError, OverflowError, OSError):
        return None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)[:200]
