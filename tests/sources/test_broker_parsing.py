from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sources.broker import parse_order, parse_position, parse_timestamp


def test_short_positions_are_negative_whatever_the_sign_convention() -> None:
    assert parse_position({"symbol": "TSLA", "qty": "5", "side": "short"}).qty == -5
    assert parse_position({"symbol": "TSLA", "qty": "-5", "side": "short"}).qty == -5
    assert parse_position({"symbol": "TSLA", "qty": "2.5", "side": "long"}).qty == 2.5


def test_nanosecond_timestamps_parse_to_aware_utc() -> None:
    assert parse_timestamp("2021-03-16T18:38:01.942282123Z") == datetime(2021, 3, 16, 18, 38, 1, 942282, tzinfo=UTC)
    assert parse_timestamp(None) is None


def test_orders_keep_ids_and_status() -> None:
    order = parse_order(
        {"id": "b-1", "client_order_id": "c-1", "symbol": "AAPL", "side": "sell", "qty": "3", "status": "rejected"}
    )
    assert (order.id, order.client_order_id, order.status, order.qty, order.filled_qty) == (
        "b-1",
        "c-1",
        "rejected",
        3,
        0,
    )


@pytest.mark.parametrize("value", ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00", "yesterday"])
def test_timestamps_out_of_range_are_a_value_error_naming_them(value: str) -> None:
    with pytest.raises(ValueError, match="not an RFC 3339 timestamp in range"):
        parse_timestamp(value)


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ({"qty": "5"}, "symbol is missing"),
        ({"symbol": "TSLA"}, "qty is missing"),
        ({"symbol": "TSLA", "qty": "NaN"}, "qty is not a finite number"),
        ({"symbol": "TSLA", "qty": "inf"}, "qty is not a finite number"),
        ({"symbol": "TSLA", "qty": "five"}, "qty is not a number"),
        ({"symbol": "TSLA", "qty": "5", "market_value": [1]}, "market_value is not a number"),
    ],
)
def test_unusable_positions_are_a_value_error_naming_the_field(raw: dict[str, object], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_position(raw)


def test_unusable_orders_are_a_value_error_naming_the_field() -> None:
    with pytest.raises(ValueError, match="status is missing"):
        parse_order({"id": "b-1", "symbol": "AAPL", "side": "sell"})
    with pytest.raises(ValueError, match="filled_qty is not a finite number"):
        parse_order({"id": "b-1", "symbol": "AAPL", "side": "sell", "status": "new", "filled_qty": "nan"})
