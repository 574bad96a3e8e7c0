"""The ghost playbook for a crypto pair, with the simulator as broker and bot: evidence through the compact
position symbol, parity that ignores the fee paid in the asset and dust, closes for what the broker holds."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.responder.consoleops import CONSOLE_ENV, PASSWORDS, write_operators
from tests.responder.harness import Harness, harness, sections
from tests.responder.payloads import alert, ghost_labels, notification
from tests.support.botstate import profile_account
from tests.support.simulator import RunningSimulator, merge, start_simulator

pytestmark = pytest.mark.slow
SEED = {"profiles": 2, "accounts": 2, "crypto_profiles": 2}  # p-3 trades BTC/USD on acct-1, p-4 ETH/USD on acct-2
QUIET = {"api_requests_per_second": 0, "websocket_connects_per_second": 0}
ENABLE = {"by": "alice", "reason": "parity checked"}


@dataclass
class Stack:
    sim: RunningSimulator
    responder: Harness

    def ghost(self, **options: Any) -> tuple[dict[str, Any], int]:
        """Inject a crypto ghost and deliver its GhostPosition alert; return what was injected and the run."""
        applied = self.sim.inject("crypto-ghost", **options)
        labels = ghost_labels(applied["profile"], applied["account"], "LINK/USD")
        answer = self.responder.post(notification(alert(labels)))
        assert answer.status_code == 200, answer.json
        self.responder.drain()
        return applied, int(answer.json["runs"][0])

    def decide(self, run_id: int, name: str, decision: str, by: tuple[str, ...] = ("bob",)) -> None:
        """Decide a step awaiting approval; a two-person step (the close) takes two approvers."""
        step = self.responder.step(run_id, name)
        for number, operator in enumerate(by, 1):
            answer = self.responder.operator("POST", f"/approvals/{step.id}", {"decision": decision, "by": operator,
                                                                                  "reason": "checked"})
            assert answer.status_code == (200 if number == len(by) else 202), answer.json
        self.responder.drain()


@pytest.fixture
def stack(tmp_path: Path, db_url: str) -> Iterator[Stack]:
    with start_simulator(tmp_path, db_url, simulator={"seed": SEED, "traffic": QUIET}) as sim:
        config = merge(sections(tmp_path, db_url), {key: sim.sections[key] for key in ("bot_db", "broker", "bot",
                                                                                        "supabase")})
        console = {"operators_file": str(write_operators(tmp_path / "operators.yml"))}
        config = merge(config, {"responder": {"max_close_notional": 0.5, "console": console}})
        env = {k: v for k, v in sim.env.items() if not k.startswith("RESPONDER_")}
        with harness(tmp_path, config, env={**env, **CONSOLE_ENV}) as responder:
            yield Stack(sim, responder)


def test_a_crypto_ghost_is_evidenced_deactivated_and_reenabled_after_parity(stack: Stack) -> None:
    h = stack.responder
    _, run_id = stack.ghost()  # the broker holds 4 LINKUSD, p-3 closed LINK/USD
    evidence = h.step(run_id, "evidence").output
    assert evidence["broker_position"]["qty"] == 4.0  # read through LINKUSD: the pair form would say "flat"
    assert evidence["spellings"] == ["LINK/USD", "LINKUSD"] and "(position LINKUSD)" in evidence["summary"]
    assert [p["status"] for p in evidence["bot_positions"]] == ["closed"]
    assert evidence["suggested_category"] == "exchange timeout"
    assert profile_account(h.bot, "p-3") == ("acct-1", "inactive")
    refused = h.operator("POST", "/profiles/p-3/enable", ENABLE)
    assert refused.status_code == 409
    parity = refused.json["parity"]
    assert parity["mismatches"] == [{"symbol": "LINK/USD", "bot_qty": 0.0, "broker_qty": 4.0}]
    explained = {e["symbol"]: e for e in parity["explained"]}  # p-3's BTC/USD: 0.05 recorded, 0.049875 held
    assert explained["BTC/USD"]["fee_allowance"] == pytest.approx(0.000125)
    stack.decide(run_id, "reconcile", "approve")  # the bot re-opens LINK/USD with the broker's 4
    enabled = h.operator("POST", "/profiles/p-3/enable", ENABLE)
    assert enabled.status_code == 200 and enabled.json["result"] == "enabled", enabled.json
    assert profile_account(h.bot, "p-3") == ("acct-1", "active")


def test_a_crypto_close_sells_what_the_broker_holds_rounded_down_and_leaves_the_dust(stack: Stack) -> None:
    h = stack.responder
    _, run_id = stack.ghost(qty=3.98765)  # LINK/USD trades in increments of 0.001
    stack.decide(run_id, "reconcile", "reject")
    assert h.step(run_id, "close").state == "awaiting_approval"  # 59.81 USD is above max_close_notional 0.5
    (queued,) = [a for a in h.operator("GET", "/approvals").json["approvals"] if a["step_id"] == h.step(
        run_id, "close").id]  # what the approvers are shown: what would be sold, and the dust left
    assert queued["summary"] == "close 3.987 of 3.98765 LINK/USD (rounded down to 0.001) on acct-1 at market, " \
                                "notional 59.81"
    assert queued["evidence"]["rows"][0]["sells"] == 3.987
    stack.decide(run_id, "close", "approve", by=("bob", "carol"))
    close = h.step(run_id, "close")
    assert (close.state, close.outcome) == ("succeeded", "changed"), close.error
    assert (close.output["order"]["symbol"], close.output["order"]["qty"]) == ("LINK/USD", 3.987)
    assert "left as dust" in close.output["summary"]
    assert close.after_state["position"]["qty"] == pytest.approx(0.00065)  # dust: no order could sell it


def test_dust_is_never_closed(stack: Stack) -> None:
    h = stack.responder
    _, run_id = stack.ghost(qty=0.05)  # worth 0.75 USD, above max_close_notional, but below min_order_size 0.1
    stack.decide(run_id, "reconcile", "reject")
    close = h.step(run_id, "close")
    assert (close.state, close.outcome) == ("skipped", "not_needed")
    assert close.output["summary"] == "0.05 LINK/USD is dust: left alone"


def test_the_console_reenables_a_crypto_profile_and_says_which_differences_it_ignored(stack: Stack) -> None:
    h = stack.responder
    stack.ghost()
    headers = {"APCA-API-KEY-ID": "sim-key-acct-1", "APCA-API-SECRET-KEY": stack.sim.env["APCA_API_SECRET_KEY"]}
    closed = requests.delete(f"{stack.sim.broker_url}/v2/positions/LINKUSD", headers=headers, timeout=5)
    assert closed.status_code == 200  # a person closed the ghost by hand at the broker
    client = h.client
    token = _csrf(client, "/console/login")
    client.post("/console/login", data={"name": "alice", "password": PASSWORDS["alice"], "csrf_token": token})
    answer = client.post("/console/profiles/p-3/enable", data={"reason": "closed LINKUSD by hand",
                                                                "csrf_token": _csrf(client, "/console/profiles")},
                         follow_redirects=True)
    page = answer.get_data(as_text=True)
    assert "Profile p-3: re-enabled" in page
    assert "BTC/USD: bot 0.05, broker 0.049875 (within the fee paid in the asset, or dust: not a mismatch)" in page
    assert profile_account(h.bot, "p-3") == ("acct-1", "active")


def _csrf(client: Any, path: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True))
    assert found is not None
    return found.group(1)


def test_flattening_an_account_with_crypto_sells_what_is_held_rounded_down_and_never_flips_a_side(
    stack: Stack
) -> None:
    h = stack.responder
    stack.ghost(qty=3.98765)  # acct-1: LINKUSD 3.98765 beside p-3's BTCUSD and p-1's AAPL
    headers = {"APCA-API-KEY-ID": "sim-key-acct-1", "APCA-API-SECRET-KEY": stack.sim.env["APCA_API_SECRET_KEY"]}
    held = {p["symbol"]: float(p["qty"]) for p in
            requests.get(f"{stack.sim.broker_url}/v2/positions", headers=headers, timeout=5).json()}
    answer = h.operator("POST", "/kill-switch", {"level": "flatten", "profiles": ["p-3"], "by": "alice"})
    assert answer.status_code == 201, answer.json
    run_id = answer.json["engagement"]["run_id"]
    assert answer.json["engagement"]["profiles"] == ["p-1", "p-3"]  # p-1 trades through acct-1 too
    h.drain()
    assert [profile_account(h.bot, p) for p in ("p-1", "p-2")] == [("acct-1", "inactive"), ("acct-2", "active")]
    flatten = h.step(run_id, "flatten")
    assert flatten.state == "awaiting_approval", (flatten.state, flatten.output)
    stack.decide(run_id, "flatten", "approve", by=("bob", "carol"))
    done = h.step(run_id, "flatten")
    assert (done.state, done.outcome) == ("succeeded", "changed"), done.error
    orders = {o["symbol"]: o for o in done.output["orders"]}
    assert orders["LINK/USD"]["qty"] == 3.987 and orders["LINK/USD"]["side"] == "sell"
    for symbol, order in orders.items():  # reduce-only: the opposite side, never more than was held
        position = held[symbol.replace("/", "")]
        assert order["side"] == ("sell" if position > 0 else "buy") and order["qty"] <= abs(position) + 1e-9
        assert order["client_order_id"] == f"rsp-{run_id}-{done.id}-acct-1-{symbol.replace('/', '')}"
    left = {p["symbol"]: float(p["qty"]) for p in
            requests.get(f"{stack.sim.broker_url}/v2/positions", headers=headers, timeout=5).json()}
    assert left["LINKUSD"] == pytest.approx(0.00065) and all(q > 0 for q in left.values())  # dust, long
    assert set(left) == {"LINKUSD"} and orders["AAPL"]["qty"] == held["AAPL"]
