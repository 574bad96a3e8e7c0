"""Supabase-style access tokens (HS256): issuing them, and verifying them the way the bot does."""

from __future__ import annotations

import hmac
import secrets
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt

ACCESS_TOKEN_SECONDS = 3600


@dataclass(frozen=True)
class User:
    id: str
    email: str
    password: str
    created_at: datetime
    role: str = "authenticated"

    def public(self) -> dict[str, Any]:
        """The user as GoTrue shows it (never the password)."""
        stamp = self.created_at.isoformat()
        return {"id": self.id, "aud": "authenticated", "role": self.role, "email": self.email,
                "email_confirmed_at": stamp, "created_at": stamp, "updated_at": stamp,
                "app_metadata": {"provider": "email", "providers": ["email"]}, "user_metadata": {}}


class UserDirectory:
    """Users, passwords and refresh tokens of the Supabase stand-in (in memory, thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users: dict[str, User] = {}
        self._refresh: dict[str, tuple[str, str]] = {}
        self._sign_ins: dict[str, int] = {}  # email -> successful password sign-ins (new sessions)

    def add(self, email: str, password: str, now: datetime) -> User:
        with self._lock:
            user = self._users.get(email) or User(str(uuid.uuid4()), email, password, now)
            self._users[email] = User(user.id, email, password, user.created_at)
            return self._users[email]

    def authenticate(self, email: str, password: str) -> User | None:
        with self._lock:
            user = self._users.get(email)
        if user is None or not hmac.compare_digest(user.password.encode(), password.encode()):
            return None
        with self._lock:
            self._sign_ins[email] = self._sign_ins.get(email, 0) + 1
        return user

    def sign_ins(self) -> dict[str, int]:
        """Successful password sign-ins per email since start (each opens a session)."""
        with self._lock:
            return dict(self._sign_ins)

    def new_refresh_token(self, user: User, session_id: str) -> str:
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._refresh[token] = (user.email, session_id)
        return token

    def use_refresh_token(self, token: str) -> tuple[User, str] | None:
        """Redeem (and thereby revoke) a refresh token: the user and session it belongs to."""
        with self._lock:
            found = self._refresh.pop(token, None)
            user = self._users.get(found[0]) if found else None
        return (user, found[1]) if user and found else None

    def all(self) -> list[User]:
        with self._lock:
            return sorted(self._users.values(), key=lambda u: u.email)


@dataclass(frozen=True)
class Verdict:
    """The bot's decision on a presented token: HTTP status and a reason for the access log."""

    status: int
    reason: str
    claims: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200


class TokenService:
    """Sign access tokens like GoTrue and verify them like the bot (HS256, audience, issuer, expiry)."""

    def __init__(self, secret: str, issuer: str, audience: str = "authenticated") -> None:
        self._secret = secret
        self.issuer = issuer
        self.audience = audience

    def issue(self, user: User, now: datetime, session_id: str | None = None, *,
              lifetime: timedelta = timedelta(seconds=ACCESS_TOKEN_SECONDS), audience: str | None = None,
              key: str | None = None) -> str:
        issued = int(now.timestamp())
        claims = {
            "iss": self.issuer, "aud": audience or self.audience, "sub": user.id, "email": user.email,
            "role": user.role, "iat": issued, "exp": issued + int(lifetime.total_seconds()),
            "session_id": session_id or str(uuid.uuid4()), "aal": "aal1", "is_anonymous": False,
        }
        return jwt.encode(claims, key or self._secret, algorithm="HS256")

    def bad_token(self, reason: str, user: User, now: datetime) -> str | None:
        """A token that the bot must reject for `reason` (``missing`` gives no token at all)."""
        if reason == "expired":
            return self.issue(user, now - timedelta(hours=2), lifetime=timedelta(hours=1))
        if reason == "wrong-audience":
            return self.issue(user, now, audience="anon")
        if reason == "bad-signature":
            return self.issue(user, now, key=self.wrong_key())
        return None

    def wrong_key(self) -> str:
        """The key a botched rotation left the bot with."""
        return "rotated-" + self._secret[::-1]

    def verify(self, token: str | None, now: datetime, *, broken_key: bool = False) -> Verdict:
        """Check `token` as the bot does: missing/malformed/expired -> 401, claims or signature -> 403."""
        if not token:
            return Verdict(401, "missing_token")
        key = self.wrong_key() if broken_key else self._secret
        try:
            claims = jwt.decode(
                token, key, algorithms=["HS256"], audience=self.audience, issuer=self.issuer,
                options={"verify_exp": False, "verify_iat": False, "require": ["exp", "sub", "aud", "iss"]},
            )
        except jwt.InvalidSignatureError:
            return Verdict(403, "bad_signature")
        except jwt.InvalidAudienceError:
            return Verdict(403, "wrong_audience")
        except jwt.InvalidIssuerError:
            return Verdict(403, "wrong_issuer")
        except jwt.MissingRequiredClaimError as exc:
            return Verdict(403, f"missing_claim_{exc.claim}")
        except jwt.PyJWTError:
            return Verdict(401, "malformed_token")
        exp = claims.get("exp")
        if not isinstance(exp, int | float) or exp <= now.timestamp():
            return Verdict(401, "token_expired")
        return Verdict(200, "ok", claims)
