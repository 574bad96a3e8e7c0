"""The bot shapes the simulator can store its data in (``python -m simulator --bot-shape NAME``).

``default`` is today's schema (`sources/botdb.py`, the default mapping): the bot's working state is the bot
database itself. Every other shape keeps the working state private and mirrors it into its own tables
(`simulator.bot.shapes.mirror`); its configuration, mapping included, is ``config/shapes/<name>.yml``.
"""

from __future__ import annotations

from simulator.bot.shapes import boolean, strategy
from simulator.bot.shapes.mirror import BotShape, ShapeMirror

DEFAULT_SHAPE = "default"
SHAPES: dict[str, BotShape] = {shape.name: shape for shape in (strategy.SHAPE, boolean.SHAPE)}
SHAPE_NAMES = (DEFAULT_SHAPE, *SHAPES)


def bot_shape(name: str) -> BotShape | None:
    """The shape called `name` (None for ``default``); ValueError naming the known ones otherwise."""
    if name == DEFAULT_SHAPE:
        return None
    if name not in SHAPES:
        raise ValueError(f"unknown bot shape {name!r} (known: {', '.join(SHAPE_NAMES)})")
    return SHAPES[name]


__all__ = ["DEFAULT_SHAPE", "SHAPES", "SHAPE_NAMES", "BotShape", "ShapeMirror", "bot_shape"]
