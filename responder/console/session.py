"""Console sign-in: a signed session cookie that expires (absolute and idle limits), or a trusted proxy's header.

The cookie holds only the operator's name and two timestamps, signed with ``$RESPONDER_SESSION_SECRET``
(the same on every replica, so any replica accepts it). A name no longer in the operators file is
signed out at the next request.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import request, session

from responder.console.identity import Operator, trusted_proxy
from responder.runtime import Runtime

KEY_NAME, KEY_LOGIN, KEY_SEEN = "operator", "login_at", "seen_at"


def configured(rt: Runtime) -> bool:
    console = rt.settings.responder.console
    return bool(rt.operators.by_name) and bool(rt.settings.secrets.session_secret) and bool(
        console.operators_file or console.proxy_user_header
    )


def current_operator(rt: Runtime) -> Operator | None:
    """The signed-in operator: from the trusted proxy's header, else from an unexpired session."""
    console = rt.settings.responder.console
    if console.proxy_user_header and trusted_proxy(console, request.remote_addr):
        header = request.headers.get(console.proxy_user_header, "").strip()
        return rt.operators.by_name.get(header)
    name = session.get(KEY_NAME)
    if name is None:
        return None
    operator = rt.operators.by_name.get(name) if isinstance(name, str) else None
    if operator is None or _expired(rt, rt.clock()):
        sign_out()
        return None
    session[KEY_SEEN] = rt.clock().timestamp()
    return operator


def _expired(rt: Runtime, now: datetime) -> bool:
    console = rt.settings.responder.console
    login_at, seen_at = session.get(KEY_LOGIN), session.get(KEY_SEEN)
    if not isinstance(login_at, float | int) or not isinstance(seen_at, float | int):
        return True
    absolute = now - datetime.fromtimestamp(login_at, now.tzinfo) > timedelta(minutes=console.session_minutes)
    idle = now - datetime.fromtimestamp(seen_at, now.tzinfo) > timedelta(minutes=console.idle_minutes)
    return absolute or idle


def sign_in(rt: Runtime, operator: Operator) -> None:
    session.clear()  # a fresh session (and CSRF token) for the signed-in operator
    session.permanent = True
    now = rt.clock().timestamp()
    session.update({KEY_NAME: operator.name, KEY_LOGIN: now, KEY_SEEN: now})


def sign_out() -> None:
    for key in (KEY_NAME, KEY_LOGIN, KEY_SEEN):
        session.pop(key, None)
