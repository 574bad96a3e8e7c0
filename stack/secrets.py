"""Throwaway secrets for the local stack, generated once into an env file readable only by its owner."""

from __future__ import annotations

from pathlib import Path

from simulator.secrets import generate_local_secrets


def read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def load_or_create_secrets(path: Path) -> dict[str, str]:
    """Return the secrets in `path`, creating it with fresh random values when it does not exist."""
    if path.exists():
        values = read_env_file(path)
        if set(generate_local_secrets()) <= set(values):
            return values
    values = generate_local_secrets()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    text = "# Local-only secrets for make run / make demo, generated at random. Never reuse them.\n"
    path.write_text(text + "".join(f"{key}={value}\n" for key, value in values.items()), encoding="utf-8")
    path.chmod(0o600)
    return values
