"""Small value checks shared by the configuration models; each raises ValueError naming the bad value."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"expected an http:// or https:// URL, got {value!r}")
    return value


def env_name(value: str) -> str:
    if not ENV_NAME.fullmatch(value):
        raise ValueError(f"not an environment variable name: {value!r}")
    return value
