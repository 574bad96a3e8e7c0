"""Alertmanager's side of the webhook, as the reliability tests need it, and the responder stack they run.

`Sender` delivers notifications the way Alertmanager does: 2xx is done, 5xx and transport errors are
retried with backoff (bounded), 4xx is a failure; a share of 200 answers can be treated as lost (the
receiver's answer timed out, a proxy failed after forwarding), which makes it deliver again — the
duplicates HA peers and retries produce. `RepeatingSender` re-sends every group it knows in a loop
(``repeat_interval``) in a thread, through responder restarts and database outages.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml

from responder.ledger.schema import runs, steps
from tests.reliability.sideeffects import Recorder
from tests.responder.harness import PLAYBOOKS, WEBHOOK_TOKEN, sections
from tests.responder.servers import FakeBroker
from tests.support.wsgi import serve_wsgi

RETRY_SECONDS = 90.0  # give up on one delivery after this long (Alertmanager: the group_interval deadline)


@dataclass
class Sender:
    url: str
    lose_share: float = 0.0
    seed: int = 0
    stats: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._local = threading.local()

    def count(self, what: str) -> None:
        with self.lock:
            self.stats[what] += 1

    def deliver(self, body: dict[str, Any], deadline_seconds: float = RETRY_SECONDS) -> int:
        """Deliver until a 2xx that is not 'lost'; return the number of attempts (0: stopped). 4xx raises."""
        deadline = time.monotonic() + deadline_seconds
        backoff, attempts = 0.05, 0
        while not self.stopping.is_set():
            attempts += 1
            status = self._post(body)
            if status == 200:
                if self._rng.random() >= self.lose_share:
                    self.count("delivered")
                    return attempts
                self.count("lost_ack")
            elif status is not None and 400 <= status < 500:
                raise AssertionError(f"a valid delivery was refused with HTTP {status}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"delivery not accepted after {attempts} attempts")
            self.stopping.wait(backoff)
            backoff = min(backoff * 2, 1.0)
        return 0

    def _post(self, body: dict[str, Any]) -> int | None:
        headers = {"Authorization": f"Bearer {WEBHOOK_TOKEN}", "User-Agent": "Alertmanager/0.25.0"}
        session = getattr(self._local, "session", None) or requests.Session()
        self._local.session = session
        try:
            answer = session.post(f"{self.url}/alerts", json=body, headers=headers, timeout=10)
        except requests.RequestException:
            self.count("transport_error")
            return None
        self.count(f"http_{answer.status_code}")
        return answer.status_code


class RepeatingSender:
    """A thread re-sending every known group, one after the other, until stopped."""

    def __init__(self, sender: Sender, pause: float = 0.02) -> None:
        self.sender = sender
        self._groups: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._pause = pause
        self._passes = 0
        self.errors: list[BaseException] = []
        self._thread = threading.Thread(target=self._run, daemon=True, name="repeating-sender")

    def add(self, *groups: dict[str, Any]) -> None:
        with self._lock:
            self._groups.extend(groups)

    def passes(self) -> int:
        """Complete passes over every group known at the start of the pass."""
        with self._lock:
            return self._passes

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                groups = list(self._groups)
            try:
                for group in groups:
                    if self._stop.is_set():
                        return
                    self.sender.deliver(group)
                    time.sleep(self._pause)
            except BaseException as exc:  # reported by the test
                self.errors.append(exc)
                return
            with self._lock:
                self._passes += 1
            self._stop.wait(self._pause)

    def wait_full_pass(self, timeout: float = 120.0) -> None:
        """Block until a pass that started after now has completed (every group delivered again)."""
        target = self.passes() + 2
        deadline = time.monotonic() + timeout
        while self.passes() < target:
            assert not self.errors, self.errors
            assert time.monotonic() < deadline, "the sender did not complete a pass"
            time.sleep(0.05)

    def __enter__(self) -> RepeatingSender:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.sender.stopping.set()
        self._thread.join(RETRY_SECONDS + 15)


def auto_playbooks(path: Path) -> Path:
    """The default playbooks with every approval gate (two-person ones too) set to auto: each run goes to its
    end unattended."""
    books = yaml.safe_load(PLAYBOOKS.read_text(encoding="utf-8"))
    for by_status in books["playbooks"].values():
        for steps_ in by_status.values():
            for step in steps_:
                if step.get("policy") == "approval":
                    step["policy"] = "auto"
                    step.pop("two_person", None)  # two operators only make sense for an approval
    path.write_text(yaml.safe_dump(books, sort_keys=False), encoding="utf-8")
    return path


@dataclass
class Effects:
    """The real HTTP services the responder's actions talk to."""

    recorder: Recorder
    broker: FakeBroker
    recorder_url: str
    broker_url: str


@contextmanager
def effects(delay_seconds: float = 0.0) -> Iterator[Effects]:
    recorder, broker = Recorder(delay_seconds), FakeBroker()
    with serve_wsgi(recorder.app()) as recorder_url, serve_wsgi(broker.app()) as broker_url:
        yield Effects(recorder, broker, recorder_url, broker_url)


def responder_config(tmp_path: Path, ledger_url: str, bot_url: str, fx: Effects, **responder: Any) -> dict[str, Any]:
    """A responder on `ledger_url` acting on `bot_url`, the fake broker and the recorder; auto playbooks."""
    config = sections(
        tmp_path, bot_url,
        broker={"base_url": fx.broker_url},
        bot={"base_url": fx.recorder_url, "reconcile_url": f"{fx.recorder_url}/admin/reconcile",
             "restart_url": f"{fx.recorder_url}/admin/restart"},
        responder={"playbooks": str(auto_playbooks(tmp_path / "auto-playbooks.yml")), "workers": 2, "threads": 2,
                   "budget": {"max_deactivations": 100_000, "window_seconds": 3600}, **responder},
    )
    config["responder"]["ledger_url"] = ledger_url
    return config


def env(fx: Effects) -> dict[str, str]:
    return {"SLACK_WEBHOOK_URL": f"{fx.recorder_url}/hook"}


def run_states(engine: Any) -> Counter[str]:
    with engine.connect() as conn:
        return Counter(conn.execute(runs.select().with_only_columns(runs.c.state)).scalars())


def step_rows(engine: Any) -> list[Any]:
    with engine.connect() as conn:
        query = steps.select().with_only_columns(steps.c.run_id, steps.c.name, steps.c.state, steps.c.attempts)
        return list(conn.execute(query.order_by(steps.c.run_id, steps.c.position)).all())
