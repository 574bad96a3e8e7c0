"""The broker stand-in through the project's own client (sources.broker.BrokerClient), over real HTTP."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from email.utils import parsedate_to_datetime
from typing import Literal

import pytest
import requests

from sources.broker import BrokerClient, BrokerRejected, BrokerUnavailable, OrderMissing, OrderToPlace
from tests.simulator.helpers import accounts_of, bot_db, broker, broker_positions, open_positions
from tests.support.simulator import RunningSimulator


def test_positions_start_in_parity_with_the_bot_database(sim: RunningSimulator, session: requests.Session) -> None:
    with bot_db(sim) as engine:
        expected = open_positions(engine)
        accounts = accounts_of(engine)
    assert len(accounts) == 3 and expected
    assert broker_positions(sim, session, accounts) == expected
    shorts = [key for key, qty in expected.items() if qty < 0]
    assert shorts, "the seed holds at least one short position"
    account, symbol = shorts[0]
    raw = requests.get(f"{sim.broker_url}/v2/positions/{symbol}", headers=_keys(sim, account), timeout=5).json()
    assert raw["side"] == "short" and raw["qty"].startswith("-") and isinstance(raw["market_value"], str)


def _keys(sim: RunningSimulator, account: str = "acct-1", secret: str | None = None) -> dict[str, str]:
    return {"APCA-API-KEY-ID": f"sim-key-{account}",
            "APCA-API-SECRET-KEY": secret if secret is not None else sim.env["APCA_API_SECRET_KEY"]}


@pytest.mark.parametrize("key_id, use_real_secret", [("sim-key-acct-1", False), ("no-such-key", True), ("", False)])
def test_bad_keys_get_401_40110000(sim: RunningSimulator, session: requests.Session, key_id: str,
                                   use_real_secret: bool) -> None:
    secret = sim.env["APCA_API_SECRET_KEY"] if use_real_secret else "wrong-secret"
    response = requests.get(f"{sim.broker_url}/v2/positions",
                            headers={"APCA-API-KEY-ID": key_id, "APCA-API-SECRET-KEY": secret}, timeout=5)
    assert response.status_code == 401
    assert response.json() == {"code": 40110000, "message": "access key verification failed"}
    client = BrokerClient(sim.broker_url, key_id, secret, session)
    with pytest.raises(BrokerUnavailable) as caught:
        client.list_positions()
    assert caught.value.kind == "unauthorized"


def test_flat_symbol_is_404_40410000_and_reads_as_none(sim: RunningSimulator, session: requests.Session) -> None:
    response = requests.get(f"{sim.broker_url}/v2/positions/ZZZZ", headers=_keys(sim), timeout=5)
    assert response.status_code == 404 and response.json()["code"] == 40410000
    assert "Date" in response.headers
    assert broker(sim, session).get_position("ZZZZ") is None


def test_orders_listing_lookup_and_error_codes(sim: RunningSimulator, session: requests.Session) -> None:
    client = broker(sim, session)
    open_orders = client.list_orders("open")
    closed = client.list_orders("closed")
    everything = client.list_orders("all")
    assert open_orders and all(o.status in ("new", "accepted") for o in open_orders)
    assert closed and all(o.status == "filled" for o in closed)
    assert len(everything) == len(open_orders) + len(closed)
    assert client.list_orders("all", limit=2) == everything[:2]
    assert all(o.symbol == "AAPL" for o in client.list_orders("all", symbols="AAPL"))
    first = everything[0]
    assert client.get_order(first.id) == first
    assert client.get_order_by_client_id(first.client_order_id).id == first.id
    with pytest.raises(OrderMissing):
        client.get_order(str(uuid.uuid4()))
    with pytest.raises(OrderMissing):
        client.get_order_by_client_id("never-sent")
    with pytest.raises(BrokerRejected) as malformed:
        client.get_order("not-a-uuid")
    assert (malformed.value.status, malformed.value.code) == (422, 40010001)
    bad_status = requests.get(f"{sim.broker_url}/v2/orders", params={"status": "weird"}, headers=_keys(sim), timeout=5)
    assert bad_status.status_code == 422 and bad_status.json()["code"] == 40010001


def test_cancel_is_204_then_422_42210000_and_unknown_is_404(sim: RunningSimulator, session: requests.Session) -> None:
    client = broker(sim, session)
    working = client.list_orders("open")[0]
    response = requests.delete(f"{sim.broker_url}/v2/orders/{working.id}", headers=_keys(sim), timeout=5)
    assert response.status_code == 204 and response.content == b""
    assert client.get_order(working.id).status == "canceled"
    with pytest.raises(BrokerRejected) as again:
        client.cancel_order(working.id)
    assert (again.value.status, again.value.code) == (422, 42210000)
    with pytest.raises(OrderMissing):
        client.cancel_order(str(uuid.uuid4()))


@pytest.mark.parametrize("service", ["bot", "control"])
def test_a_404_without_alpacas_code_is_no_answer_not_missing(
    sim: RunningSimulator, session: requests.Session, service: str
) -> None:
    """A wrong base URL: the bot answers 404 with its own JSON, the control API with Flask's HTML page."""
    wrong = {"bot": sim.bot_url, "control": sim.control_url}[service]
    client = BrokerClient(wrong, "sim-key-acct-1", sim.env["APCA_API_SECRET_KEY"], session)
    calls = [
        lambda: client.get_position("AAPL"),
        lambda: client.get_order(str(uuid.uuid4())),
        lambda: client.get_order_by_client_id("never-sent"),
        lambda: client.cancel_order(str(uuid.uuid4())),
    ]
    for call in calls:
        with pytest.raises(BrokerUnavailable) as unavailable:
            call()
        assert (unavailable.value.kind, unavailable.value.status) == ("bad_response", 404)


def test_close_position_returns_the_liquidating_order(sim: RunningSimulator, session: requests.Session) -> None:
    client = broker(sim, session)
    held = client.list_positions()[0]
    order = client.close_position(held.symbol)
    assert order.symbol == held.symbol and order.qty == abs(held.qty)
    assert order.side == ("sell" if held.qty > 0 else "buy") and order.status == "filled"
    assert client.get_position(held.symbol) is None
    with pytest.raises(OrderMissing):
        client.close_position(held.symbol)


def test_submitted_market_order_fills_and_moves_the_position(sim: RunningSimulator) -> None:
    body = {"symbol": "SPY", "qty": "3", "side": "buy", "type": "market", "time_in_force": "day",
            "client_order_id": "test-spy-1"}
    placed = requests.post(f"{sim.broker_url}/v2/orders", json=body, headers=_keys(sim), timeout=5)
    assert placed.status_code == 200
    order = placed.json()
    assert order["status"] == "filled" and order["filled_qty"] == "3" and order["client_order_id"] == "test-spy-1"
    position = requests.get(f"{sim.broker_url}/v2/positions/SPY", headers=_keys(sim), timeout=5).json()
    assert position["qty"] == "3" and position["side"] == "long"
    duplicate = requests.post(f"{sim.broker_url}/v2/orders", json=body, headers=_keys(sim), timeout=5)
    assert duplicate.status_code == 422 and duplicate.json()["code"] == 40010001
    invalid = requests.post(f"{sim.broker_url}/v2/orders", json={**body, "qty": "-1"}, headers=_keys(sim), timeout=5)
    assert invalid.status_code == 422


def test_every_answer_carries_a_date_header(sim: RunningSimulator, session: requests.Session) -> None:
    client = broker(sim, session)
    client.list_positions()
    assert client.last_server_time is not None
    unauthorized = requests.get(f"{sim.broker_url}/v2/orders", timeout=5)
    assert abs(parsedate_to_datetime(unauthorized.headers["Date"]).timestamp() - time.time()) < 30


def test_broker_latency_setting_slows_every_request(sim: RunningSimulator, session: requests.Session) -> None:
    client = broker(sim, session)
    sim.set_broker_latency(300)
    started = time.monotonic()
    client.list_positions()
    slow = time.monotonic() - started
    sim.set_broker_latency(0)
    started = time.monotonic()
    client.list_positions()
    assert slow >= 0.3 > time.monotonic() - started


def test_serves_32_concurrent_readers(sim: RunningSimulator) -> None:
    def read(n: int) -> int:
        with requests.Session() as own:
            return len(broker(sim, own, f"acct-{n % 3 + 1}").list_positions())

    with ThreadPoolExecutor(32) as pool:
        counts = list(pool.map(read, range(256)))
    assert len(counts) == 256 and all(count == 2 for count in counts)


def test_a_reused_client_order_id_is_refused_with_422_and_place_once_finds_the_first_order(
    sim: RunningSimulator, session: requests.Session
) -> None:
    client = broker(sim, session)
    held = client.list_positions()[0]
    side: Literal["buy", "sell"] = "sell" if held.qty > 0 else "buy"
    client_id = f"rsp-1-2-acct-1-{held.symbol}"
    order = OrderToPlace(held.symbol, 1.0, side, client_id)
    first = client.place_once(order)
    assert first.result == "placed" and first.order.client_order_id == client_id and first.order.qty == 1.0
    body = {"symbol": held.symbol, "qty": "1", "side": side, "type": "market", "time_in_force": "day",
            "client_order_id": client_id}
    raw = requests.post(f"{sim.broker_url}/v2/orders", json=body, headers=_keys(sim), timeout=5)
    assert raw.status_code == 422 and "client_order_id" in raw.json()["message"]
    with pytest.raises(BrokerRejected) as refused:
        client.submit_order(order)
    assert refused.value.status == 422
    again = client.place_once(order)  # a step re-run after a crash: the same order, not a second one
    assert again.result == "already_placed" and again.order.id == first.order.id
    moved = client.get_position(held.symbol)
    assert moved is not None and abs(moved.qty) == pytest.approx(abs(held.qty) - 1.0)


def test_place_once_reraises_a_422_with_no_order_under_the_client_order_id(
    sim: RunningSimulator, session: requests.Session
) -> None:
    client = broker(sim, session)
    with pytest.raises(BrokerRejected) as refused:  # crypto takes gtc or ioc, never day: refused, nothing placed
        client.place_once(OrderToPlace("BTC/USD", 1.0, "buy", "rsp-9-9-refused", "day"))
    assert refused.value.status == 422
