"""The simulator's bot shapes for tests: each shape's configuration (``config/shapes/<name>.yml``) as
sections to merge into a test's generated config, so a test runs against a shape with configuration only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
OTHER_SHAPES = ("strategy", "boolean")
SHAPES = ("default", *OTHER_SHAPES)


def shape_config(name: str) -> dict[str, Any]:
    """The whole committed config of shape `name`."""
    loaded: dict[str, Any] = yaml.safe_load((REPO / "config" / "shapes" / f"{name}.yml").read_text(encoding="utf-8"))
    return loaded


def shape_sections(name: str) -> dict[str, Any]:
    """What makes a generated test config one of shape `name`: its mapping, its access log format, the shape."""
    if name == "default":
        return {}
    raw = shape_config(name)
    return {"bot_db": {"mapping": raw["bot_db"]["mapping"]},
            "bot": {"access_log_format": raw["bot"]["access_log_format"]},
            "simulator": {"bot_shape": name}}


def shape_cases(shapes: tuple[str, ...]) -> list[Any]:
    """pytest params ``(shape, backend)`` for every shape on SQLite and PostgreSQL (marked ``postgres``)."""
    return [
        pytest.param((shape, backend), id=f"{shape}-{backend}",
                     marks=[pytest.mark.postgres] if backend == "postgres" else [])
        for shape in shapes for backend in ("sqlite", "postgres")
    ]
