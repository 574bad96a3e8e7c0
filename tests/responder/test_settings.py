"""Start-up checks of the responder's secrets: a weak bearer token refuses to start, naming what is required."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.config import ConfigError
from responder.settings import load_settings
from tests.responder.harness import OPERATOR_TOKEN, SECRETS, WEBHOOK_TOKEN, sections
from tests.support.simulator import write_config


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path / "responder.yml", sections(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite3'}"))


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("RESPONDER_WEBHOOK_TOKEN", "   ", "has 3 characters, at least 20 are required"),
        ("RESPONDER_WEBHOOK_TOKEN", "x", "has 1 characters"),
        ("RESPONDER_WEBHOOK_TOKEN", "a" * 40, "fewer than 8 distinct characters"),
        ("RESPONDER_WEBHOOK_TOKEN", "abcdefgh ijklmnopqrstuvwxyz", "contains whitespace"),
        ("RESPONDER_WEBHOOK_TOKEN", "abcdefghijklmnopqrstuvwxyz\x07", "control"),
        ("RESPONDER_OPERATOR_TOKEN", "short", "has 5 characters"),
        ("RESPONDER_OPERATOR_TOKEN", WEBHOOK_TOKEN, "equals $RESPONDER_WEBHOOK_TOKEN"),
    ],
)
def test_a_weak_token_refuses_to_start_naming_the_variable_and_the_rule(
    config: Path, name: str, value: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(config, {**SECRETS, name: value})
    message = str(refused.value)
    assert message.startswith(f"${name}") and problem in message
    assert "\n" not in message
    if len(value.strip()) >= 5:
        assert value not in message  # a token is never echoed


def test_strong_tokens_start_and_a_missing_operator_token_is_allowed(config: Path) -> None:
    settings = load_settings(config, {**SECRETS, "RESPONDER_OPERATOR_TOKEN": ""})
    assert settings.secrets.webhook_token == WEBHOOK_TOKEN and settings.secrets.operator_token is None
    assert load_settings(config, SECRETS).secrets.operator_token == OPERATOR_TOKEN
