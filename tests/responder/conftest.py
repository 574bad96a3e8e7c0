"""Fixtures for the responder's tests (the shared ones, db_url and friends, come from tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.responder.harness import Harness, harness, sections
from tests.responder.servers import SlackCapture
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
