"""The whole loop for real: simulator, exporters, responder(s), Prometheus, Alertmanager(s) on loopback."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from sources.botdata import BotData, open_bot_data
from stack.local import LocalStack, StackOptions
from stack.observe import Observer
from tests.support.ports import free_port
from tests.support.simulator import merge, simulator_sections, write_config

REPO = Path(__file__).resolve().parents[2]
INTERVAL_SECONDS = 2.0  # scrape and evaluation interval of the e2e Prometheus, as in `make demo`
# p-1..p-8 round-robin on acct-1..acct-4 (p-n and p-(n+4) share one); crypto p-9 (BTC/USD, acct-1), p-10 (ETH/USD,
# acct-2) trade continuously at CRYPTO_FILLS_PER_SECOND: a fee in the asset on every buy, dust after every sale
SEED = {"profiles": 8, "accounts": 4, "crypto_profiles": 2}
CRYPTO_FILLS_PER_SECOND = 6


def stack_sections(tmp_path: Path, bot_db_url: str, ledger_url: str, alertmanagers: list[str]) -> dict[str, Any]:
    """The YAML's sections for an e2e stack; `alertmanagers` are the automation Alertmanagers' URLs (the
    responder asks them for truncated alerts)."""
    sections = simulator_sections(tmp_path, bot_db_url)
    sections["broker"].update(read_timeout_seconds=1.0)
    sections["simulator"]["seed"] = SEED
    sections["simulator"]["traffic"]["crypto_fills_per_second"] = CRYPTO_FILLS_PER_SECOND
    sections["exporters"] = {  # a scrape answers within the 2 s scrape timeout, as in config/local.yml
        "listen": f"127.0.0.1:{free_port()}",
        "ghost_scrape_budget_seconds": 1.5,
        "scrape_budget_seconds": 1.8,
        "probe_timeout_seconds": 0.8,
    }
    sections["responder"] = {
        "listen": f"127.0.0.1:{free_port()}",
        "ledger_url": ledger_url,
        "playbooks": str(REPO / "responder" / "playbooks.yml"),
        "alertmanager_urls": alertmanagers,
        "rca_dir": str(tmp_path / "rca"),
        "poll_seconds": 0.2,
    }
    return sections


@dataclass
class E2E:
    stack: LocalStack
    observer: Observer
    bot: BotData
    session: requests.Session

    def inject(self, kind: str, **options: Any) -> dict[str, Any]:
        answer = self.session.post(f"{self.stack.urls.simulator_control}/faults/{kind}", json=options, timeout=30)
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    def reset(self) -> None:
        self.inject("reset")

    def wait_for(self, what: str, check: Callable[[], bool], timeout: float) -> float:
        """Poll `check` every half second; return the seconds it took; fail naming `what` on timeout."""
        started = time.monotonic()
        while not check():
            self.stack.group.check_alive()
            if time.monotonic() - started > timeout:
                pytest.fail(f"e2e: {what} did not happen within {timeout:.0f} s\n{self.describe()}")
            time.sleep(0.5)
        return time.monotonic() - started

    def firing(self, alertname: str, **labels: str) -> list[Any]:
        return [
            a
            for a in self.observer.alerts("firing")
            if a.name == alertname and all(a.labels.get(k) == v for k, v in labels.items())
        ]

    def fired_since(self, since: datetime, severity: str | None = None) -> set[str]:
        """Alert names that became active after `since` and were firing at some point since then.

        ALERTS_FOR_STATE holds each active alert's activation time (whole seconds), so alerts still firing
        from an earlier phase (activated before `since`) do not count.
        """
        window = max(int((datetime.now(UTC) - since).total_seconds()) + 1, 1)
        selector = 'alertstate="firing"' + (f',severity="{severity}"' if severity else "")
        result = self.observer.query(
            f"max_over_time(ALERTS{{{selector}}}[{window}s]) and ignoring(alertstate) "
            f"(max_over_time(ALERTS_FOR_STATE[{window}s]) >= {int(since.timestamp())})"
        )
        return {series["metric"]["alertname"] for series in result}

    def runs(self, alertname: str, **labels: str) -> list[dict[str, Any]]:
        return [
            run
            for run in self.observer.runs(alertname)
            if all(run["alert"]["labels"].get(k) == v for k, v in labels.items())
        ]

    def describe(self) -> str:
        alerts = [
            (a.name, a.labels.get("profile") or a.labels.get("account") or a.labels.get("channel"))
            for a in self.observer.alerts("firing")
        ]
        return f"firing now: {alerts}"


def start_e2e(
    tmp_path: Path,
    bot_db_url: str,
    ledger_url: str,
    *,
    alertmanagers: int = 1,
    responders: int = 1,
    responder_bot_db_url: str | None = None,
    responder: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> Iterator[E2E]:
    """Start the stack on free ports: `alertmanagers` people's and as many automation Alertmanagers (each
    kind one gossip cluster when there are several); `responder_bot_db_url`: where the responders reach the
    bot DB; `responder`: more responder settings; `extra`: sections merged into the config (a bot shape's)."""
    am_ports = tuple(free_port() for _ in range(alertmanagers))
    automation_ports = tuple(free_port() for _ in range(alertmanagers))
    sections = stack_sections(tmp_path, bot_db_url, ledger_url, [f"http://127.0.0.1:{p}" for p in automation_ports])
    sections["responder"].update(responder or {})
    sections = merge(sections, extra or {})
    config = write_config(tmp_path / "config.yml", sections)
    options = StackOptions(
        config_path=config,
        state_dir=tmp_path / "state",
        prometheus_ports=(free_port(),),
        alertmanager_ports=am_ports,
        alertmanager_cluster_ports=tuple(free_port() for _ in am_ports) if alertmanagers > 1 else (),
        automation_alertmanager_ports=automation_ports,
        automation_alertmanager_cluster_ports=tuple(free_port() for _ in am_ports) if alertmanagers > 1 else (),
        responder_ports=tuple(free_port() for _ in range(responders)) if responders > 1 else (),
        responder_bot_db_url=responder_bot_db_url,
        sink_port=free_port(),
        interval_seconds=INTERVAL_SECONDS,
        fresh=True,
    )
    stack = LocalStack(options)
    bot = open_bot_data(stack.config.bot_db)
    with stack, requests.Session() as session:
        e2e = E2E(stack, stack.observer(bot, session), bot, session)
        e2e.wait_for(
            "Prometheus scraping the exporters and every responder",
            lambda: e2e.observer.targets_up() == 1 + responders,
            60,
        )
        yield e2e
    bot.dispose()


def write_crypto_soak(fills: int, seconds: float, alerts: dict[str, int]) -> Path:
    """Leave the crypto soak's figures (fills, and the alerts they raised: none) where `make bench` reports them."""
    path = REPO / "var" / "e2e" / "crypto_soak.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"crypto_fills": fills, "seconds": round(seconds, 1), "alerts": alerts,
            "measured_at": datetime.now(UTC).isoformat()}
    path.write_text(json.dumps(body, indent=2) + "\n")
    return path


def write_fill_races(runs: int, false_sev1: int) -> Path:
    """Leave the fill races run (and the SEV-1s they raised: none) where `make bench` reports them."""
    path = REPO / "var" / "e2e" / "fill_races.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"runs": runs, "false_sev1": false_sev1, "measured_at": datetime.now(UTC).isoformat()}
    path.write_text(json.dumps(body, indent=2) + "\n")
    return path


def write_time_to_mitigate(seconds: float, floor_seconds: float, old_floor_seconds: float) -> Path:
    """Leave the measured ghost time-to-mitigate (and the old design's floor) where `make bench` reports it."""
    path = REPO / "var" / "e2e" / "time_to_mitigate.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "seconds": round(seconds, 2),
                "floor_seconds": floor_seconds,
                "old_floor_seconds": old_floor_seconds,
                "interval_seconds": INTERVAL_SECONDS,
                "measured_at": datetime.now(UTC).isoformat(),
            },
            indent=2,
        )
        + "\n"
    )
    return path


@pytest.fixture(scope="module")
def e2e(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2E]:
    """One stack on SQLite (the embedded default) for a whole test module."""
    tmp_path = tmp_path_factory.mktemp("e2e")
    yield from start_e2e(tmp_path, f"sqlite:///{tmp_path / 'bot.sqlite3'}", f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
