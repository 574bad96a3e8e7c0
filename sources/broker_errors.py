"""What the broker answered when it did not give what was asked: said no, or gave no usable answer.

See sources/broker.py for why the difference matters (quarantining an order against doing nothing).
"""

from __future__ import annotations

from typing import Literal

import requests

INSUFFICIENT_FUNDS_CODE = 40310000
NOT_FOUND_CODE = 40410000  # Alpaca's JSON 404: unknown order, or no position in the symbol

UnavailableKind = Literal["timeout", "connection", "server_error", "rate_limited", "unauthorized", "bad_response"]


class BrokerError(Exception):
    """Base of every broker client error."""


class BrokerUnavailable(BrokerError):
    """The broker gave no usable answer; nothing can be concluded from this call."""

    def __init__(self, kind: UnavailableKind, detail: str, status: int | None = None) -> None:
        super().__init__(f"broker unavailable ({kind}): {detail}")
        self.kind = kind
        self.status = status


class OrderMissing(BrokerError):
    """The broker answered 404 with code 40410000: it does not know this order (or holds no such position)."""


class BrokerRejected(BrokerError):
    """The broker understood the request and refused it (e.g. 403 insufficient funds, 422)."""

    def __init__(self, status: int, code: int | None, message: str) -> None:
        super().__init__(f"broker rejected the request ({status}, code {code}): {message}")
        self.status = status
        self.code = code
        self.message = message

    @property
    def insufficient_funds(self) -> bool:
        return self.status == 403 and self.code == INSUFFICIENT_FUNDS_CODE


def _error_fields(response: requests.Response) -> tuple[int | None, str]:
    try:
        body = response.json()
    except ValueError:
        return None, response.text[:200]
    if isinstance(body, dict):
        code = body.get("code")
        return (code if isinstance(code, int) else None), str(body.get("message", ""))[:200]
    return None, ""


def raise_for_status(response: requests.Response, method: str, path: str) -> None:
    status = response.status_code
    if status < 400:
        return
    code, message = _error_fields(response)
    where = f"{method} {path}"
    if status == 404 and code == NOT_FOUND_CODE:
        raise OrderMissing(f"{where}: not found (code {code})")
    if status == 404:
        detail = f"{where}: HTTP 404 without Alpaca's code {NOT_FOUND_CODE} (a proxy or a wrong base URL?)"
        raise BrokerUnavailable("bad_response", detail, status)
    if status == 401:
        raise BrokerUnavailable("unauthorized", f"{where}: API keys rejected (code {code})", status)
    if status == 429:
        reset = response.headers.get("X-Ratelimit-Reset", "?")
        raise BrokerUnavailable("rate_limited", f"{where}: rate limited, resets at {reset}", status)
    if status >= 500:
        raise BrokerUnavailable("server_error", f"{where}: HTTP {status}", status)
    raise BrokerRejected(status, code, message)
