"""Local console operators for `make run` / `make demo`: two named operators (the two-person rule needs two)
with random passwords, kept in ``<state>/operators.env`` (0600) and hashed into ``<state>/operators.yml``."""

from __future__ import annotations

import secrets
from pathlib import Path

from werkzeug.security import generate_password_hash

from stack.render import write_yaml
from stack.secrets import read_env_file

OPERATORS = ("alice", "bob")
SLACK_USER_IDS = {"alice": "UALICE0001", "bob": "UBOB000002"}  # what the local Slack stand-in clicks as


def ensure_operators(state: Path) -> tuple[Path, dict[str, str]]:
    """The operators file for the responder and the plain passwords to print (created once, then reused)."""
    plain = state / "operators.env"
    passwords = read_env_file(plain) if plain.exists() else {}
    if set(passwords) != set(OPERATORS):
        passwords = {name: secrets.token_urlsafe(12) for name in OPERATORS}
        plain.touch(mode=0o600)
        text = "# Local console logins for make run, generated at random. Never reuse them.\n"
        plain.write_text(text + "".join(f"{k}={v}\n" for k, v in passwords.items()), encoding="utf-8")
        plain.chmod(0o600)
    operators = [
        {"name": name, "password_hash": generate_password_hash(passwords[name]), "slack_user_id": SLACK_USER_IDS[name]}
        for name in OPERATORS
    ]
    return write_yaml(state / "operators.yml", {"operators": operators}), passwords
