"""The bot's reconcile and restart hooks (`bot.hooks`): an HTTP call or a command, each with a timeout.

A hook is resolved once at start (`resolve_hook`: its secrets read from the environment, its program found
on PATH; a `ConfigError` naming the key otherwise) and run per action (`run_hook`). How it ended is typed,
because a retry is only safe to consider for one kind:

- `HookUnavailable` — transient (its `kind`: ``timeout``, ``connection``, ``server_error``,
  ``rate_limited``): the command timed out (it is killed, with its process group), the HTTP call could not
  connect or timed out, or answered 5xx or 429. Nothing is known about whether it took effect.
- `HookRefused` — definite: the command exited non-zero, or the HTTP call answered another 4xx.

A command runs without a shell, with a minimal environment (PATH, the variables named in ``pass_env``, and
the alert's context as ``TRADINGBOT_*`` variables); an HTTP hook POSTs (or whatever ``method`` says) the
same context as JSON. The output recorded is the end of what the command printed (or the start of the HTTP
answer), at most `OUTPUT_LIMIT` characters, with bearer tokens and JWTs masked.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import requests

from common.bot_config import HookConfig, describe_hook
from common.config import ConfigError, read_secret
from common.logs import redact

OUTPUT_LIMIT = 2000
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class HookResult:
    """What a hook did: how long it took, its exit code or HTTP status, its (truncated) output."""

    kind: str
    seconds: float
    exit_code: int | None = None
    http_status: int | None = None
    output: str = ""
    response: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        found = {"exit_code": self.exit_code, "http_status": self.http_status, "response": self.response}
        return {"kind": self.kind, "seconds": round(self.seconds, 3), "output": self.output,
                **{key: value for key, value in found.items() if value is not None}}


class HookError(Exception):
    """A hook that did not succeed; `result` holds what is known (None when nothing ran)."""

    def __init__(self, message: str, result: HookResult | None = None) -> None:
        super().__init__(message)
        self.result = result


HookUnavailableKind = Literal["timeout", "connection", "server_error", "rate_limited"]


class HookUnavailable(HookError):
    """Transient: timed out, could not connect, a 5xx or a 429; whether it took effect is unknown."""

    def __init__(self, kind: HookUnavailableKind, message: str, result: HookResult | None = None) -> None:
        super().__init__(message, result)
        self.kind: HookUnavailableKind = kind


class HookRefused(HookError):
    """Definite: the command exited non-zero, or the HTTP call answered 4xx."""


@dataclass(frozen=True)
class HookSpec:
    """A validated hook with its secrets resolved (kept out of repr)."""

    name: str
    config: HookConfig
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    env: Mapping[str, str] = field(default_factory=dict, repr=False)

    def describe(self) -> dict[str, Any]:
        return {"hook": self.name, **describe_hook(self.config)}


def resolve_hook(name: str, config: HookConfig, env: Mapping[str, str], where: str | None = None) -> HookSpec:
    """Read the hook's secrets and find its program; ConfigError naming ``bot.hooks.<name>`` (or `where`)
    otherwise."""
    where = where or f"bot.hooks.{name}"
    try:
        secrets = {var: str(read_secret(var, env)) for var in config.secret_envs}
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc} (the hook sends it)") from None
    if config.command is None:
        headers = {**config.headers, **{h: secrets[var] for h, var in config.secret_headers.items()}}
        if config.bearer_token_env:
            headers["Authorization"] = f"Bearer {secrets[config.bearer_token_env]}"
        return HookSpec(name, config, headers=headers)
    path = env.get("PATH") or DEFAULT_PATH
    if shutil.which(config.command[0], path=path) is None:
        raise ConfigError(f"{where}.command: {config.command[0]!r} is not an executable program on PATH")
    passed = {var: env[var] for var in config.pass_env if var in env}
    return HookSpec(name, config, env={"PATH": path, **passed})


def run_hook(spec: HookSpec, context: Mapping[str, str | None], session: requests.Session) -> HookResult:
    """Run the hook once with the alert's `context`; raise HookUnavailable / HookRefused unless it succeeded."""
    values = {key: value for key, value in context.items() if value}
    if spec.config.command is not None:
        return _run_command(spec, spec.config.command, values)
    return _call(spec, values, session)


def _run_command(spec: HookSpec, argv: list[str], context: Mapping[str, str]) -> HookResult:
    env = {**spec.env, "TRADINGBOT_HOOK": spec.name, **{f"TRADINGBOT_{k.upper()}": v for k, v in context.items()}}
    timeout = spec.config.timeout_seconds
    started = time.monotonic()
    with tempfile.TemporaryFile() as out:
        try:
            process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                       env=env, start_new_session=True)
        except OSError as exc:
            raise HookRefused(f"{spec.name} command {argv[0]!r} could not start: {exc.strerror}") from None
        try:
            code = process.wait(timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            result = HookResult("command", time.monotonic() - started, None, output=_tail(out))
            message = f"{spec.name} command timed out after {timeout:g} s (killed)"
            raise HookUnavailable("timeout", message, result) from None
        result = HookResult("command", time.monotonic() - started, code, output=_tail(out))
    if code != 0:
        raise HookRefused(f"{spec.name} command exited with {code}", result)
    return result


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _tail(out: Any) -> str:
    """The last OUTPUT_LIMIT characters the command printed, secrets masked."""
    size = out.seek(0, os.SEEK_END)
    out.seek(max(0, size - OUTPUT_LIMIT * 4))
    text = redact(out.read().decode("utf-8", errors="replace"))
    return text if len(text) <= OUTPUT_LIMIT and size <= OUTPUT_LIMIT * 4 else "[...]" + text[-OUTPUT_LIMIT:]


def _call(spec: HookSpec, context: Mapping[str, str], session: requests.Session) -> HookResult:
    config = spec.config
    started = time.monotonic()
    try:
        response = session.request(config.method, str(config.url), json=dict(context), headers=dict(spec.headers),
                                   timeout=config.timeout_seconds)
    except requests.RequestException as exc:  # carries the URL only, never the headers
        kind: HookUnavailableKind = "timeout" if isinstance(exc, requests.Timeout) else "connection"
        raise HookUnavailable(kind, f"{spec.name} hook unreachable: {type(exc).__name__}") from None
    try:
        answer = json.loads(redact(json.dumps(response.json())))  # masked like the text
    except ValueError:
        answer = None
    result = HookResult("http", time.monotonic() - started, http_status=response.status_code,
                        output=redact(response.text[:OUTPUT_LIMIT]),
                        response=answer if isinstance(answer, dict) else None)
    if response.status_code >= 500 or response.status_code == 429:
        kind = "rate_limited" if response.status_code == 429 else "server_error"
        raise HookUnavailable(kind, f"{spec.name} hook answered HTTP {response.status_code}", result)
    if not 200 <= response.status_code < 300:
        raise HookRefused(f"{spec.name} hook answered HTTP {response.status_code}", result)
    return result
