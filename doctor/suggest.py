"""Placeholder replaced below."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TextIO


def suggest_for(config_path: str, env: Mapping[str, str], out: TextIO) -> int:
    raise NotImplementedError
