from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from sources.tokens import decode_claims, token_fingerprint


def test_claims_are_read_without_the_signing_key() -> None:
    exp = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    token = jwt.encode(
        {"iss": "https://ref.supabase.co/auth/v1", "aud": "authenticated", "exp": exp, "sub": "user-1", "role": "x"},
        "someone-elses-secret-of-at-least-32-bytes",
        algorithm="HS256",
    )
    claims = decode_claims(token)
    assert claims is not None
    assert (claims.issuer, claims.audience, claims.subject, claims.algorithm) == (
        "https://ref.supabase.co/auth/v1",
        "authenticated",
        "user-1",
        "HS256",
    )
    assert claims.expires_at == exp and claims.expired(exp + timedelta(seconds=1))
    assert token not in str(claims.as_dict())
    assert claims.fingerprint == token_fingerprint(token) != token_fingerprint(token + "x")


def test_garbage_is_not_a_token() -> None:
    assert decode_claims("not-a-jwt") is None


@pytest.mark.parametrize("exp", [1e20, -1e20, 2**70, float("nan"), True, "tomorrow"])
def test_an_expiry_out_of_range_reads_as_unknown(exp: object) -> None:
    header = base64.urlsafe_b64encode(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()).rstrip(b"=")
    payload = base64.urlsafe_b64encode(json.dumps({"sub": "user-1", "exp": exp}).encode()).rstrip(b"=")
    token = b".".join([header, payload, b"c2lnbmF0dXJl"]).decode()
    claims = decode_claims(token)
    assert claims is not None
    assert claims.subject == "user-1" and claims.expires_at is None
