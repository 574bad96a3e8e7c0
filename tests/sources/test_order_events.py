"""The latest order event per (account, symbol), the settling evidence of the bot's side, on every bot shape."""

from __future__ import annotations

from datetime import datetime

from sources.botdata import BotData
from sources.botdata.rows import BotOrder
from tests.sources.shapes import NOW, Shape
from tests.sources.test_bot_shapes import bot, shape  # noqa: F401  (the shape fixtures)


def event(order: BotOrder) -> datetime:
    """A working order's placement; an ended order's last update (what the statement must compute)."""
    if order.status_class == "terminal" and order.updated_at is not None:
        return order.updated_at
    assert order.created_at is not None
    return order.created_at


def test_the_latest_order_event_is_a_working_orders_placement_or_an_ended_orders_update(
    shape: Shape, bot: BotData  # noqa: F811
) -> None:
    stale = bot.stale_orders(NOW)
    assert stale, shape.name
    wanted = sorted({(order.account or "", order.symbol) for order in stale})
    expected: dict[tuple[str, str], datetime] = {}
    for account, symbol in wanted:
        profiles = bot.profiles_of([account]).get(account, set())
        orders = [order for profile in profiles for order in bot.orders_of(profile, symbol, 100)]
        expected[(account, symbol)] = max(event(order) for order in orders)
    assert bot.last_order_events([*wanted, (wanted[0][0], "NO-SUCH")]) == expected
    assert bot.last_order_events([]) == {}
