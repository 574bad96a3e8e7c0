"""Fixtures for the responder's tests (the shared ones, db_url and friends, come from tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.responder.harness import Harness, harness, sections
from tests.responder.servers import FakeBroker, SlackCapture
from tests.support.botstate import add_account, add_profile
from tests.support.wsgi import serve_wsgi


@pytest.fixture
def slack() -> Iterator[tuple[SlackCapture, str]]:
    capture = SlackCapture()
    with serve_wsgi(capture.app()) as url:
        yield capture, f"{url}/hook"


@pytest.fixture
def responder(tmp_path: Path, db_url: str, slack: tuple[SlackCapture, str]) -> Iterator[Harness]:
    """A responder on `db_url` (SQLite and PostgreSQL) with profiles p-1/p-2 on acct-1 and a Slack capture."""
    with harness(tmp_path, sections(tmp_path, db_url), env={"SLACK_WEBHOOK_URL": slack[1]}) as h:
        now = datetime.now(UTC)
        add_account(h.bot, "acct-1", "key-acct-1")
        add_profile(h.bot, "p-1", "acct-1", now)
        add_profile(h.bot, "p-2", "acct-1", now)
        yield h


@pytest.fixture
def broker() -> Iterator[tuple[FakeBroker, str]]:
    fake = FakeBroker()
    with serve_wsgi(fake.app()) as url:
        yield fake, url


@pytest.fixture
def with_broker(tmp_path: Path, db_url: str, broker: tuple[FakeBroker, str]) -> Iterator[Harness]:
    """A responder whose broker is the fake broker, profiles p-1/p-2 on acct-1, max_close_notional 1000."""
    config = sections(tmp_path, db_url, broker={"base_url": broker[1]}, responder={"max_close_notional": 1000})
    with harness(tmp_path, config) as h:
        add_account(h.bot, "acct-1", "key-acct-1")
        for profile in ("p-1", "p-2"):
            add_profile(h.bot, profile, "acct-1", datetime.now(UTC))
        yield h
