"""The local stack's own checks, before anything starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from stack.local import LocalStack, StackOptions
from stack.services import StackError

REPO = Path(__file__).resolve().parents[2]


def test_a_scrape_budget_beyond_the_local_scrape_timeout_is_refused(tmp_path: Path) -> None:
    options = StackOptions(config_path=REPO / "config" / "local.yml", state_dir=tmp_path, interval_seconds=1.0)
    with pytest.raises(StackError, match=r"exporters\.scrape_budget_seconds \(1\.8\) must be below .* \(1 s\)"):
        LocalStack(options)
    stack = LocalStack(StackOptions(config_path=REPO / "config" / "local.yml", state_dir=tmp_path))
    assert stack.options.interval_seconds > stack.config.section("exporters").scrape_budget_seconds
