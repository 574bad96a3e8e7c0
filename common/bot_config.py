"""The `bot:` section: the bot's API, how to read its access log, which health fields mean degraded, its hooks.

Every default keeps today's behaviour: a JSON-lines access log with the keys of `sources/accesslog.py`, any
200 from `/health/ready` is healthy, and the restart/reconcile hooks are the HTTP URLs `bot.restart_url` /
`bot.reconcile_url` (POST, service-role bearer). Validation errors name the key, e.g.
``bot.access_log_format: Value error, regex: the named group 'status' is required``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from common.checks import env_name, http_url

# What a line can tell, by the name of a JSON field mapping or a regex's named group.
LINE_FIELDS = ("ts", "channel", "method", "path", "request", "status", "reason", "error_code", "token",
               "user_agent", "user", "remote_addr", "upgrade")
LEGACY_HOOK_SECRET_ENV = "SUPABASE_SERVICE_ROLE_KEY"  # the bearer of bot.restart_url / bot.reconcile_url
HOOK_NAMES = ("restart", "reconcile")

LogFormatName = Literal["json", "regex", "nginx-combined", "apache-combined", "gunicorn", "uvicorn"]
ClientSource = Literal["user", "token_subject", "remote_addr"]
CLIENT_SOURCES: tuple[ClientSource, ...] = ("user", "token_subject", "remote_addr")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class JsonFields(_Section):
    """Where each field is in a JSON line: a key, or a dotted path into nested objects (``request.status``);
    null when the log does not have it. ``channel: null`` derives the channel from the websocket rule."""

    ts: str | None = "ts"
    channel: str | None = "channel"
    method: str | None = "method"
    path: str | None = "path"
    request: str | None = None
    status: str = "status"
    reason: str | None = "reason"
    error_code: str | None = "error_code"
    token: str | None = "token"
    user_agent: str | None = "user_agent"
    user: str | None = "user"
    remote_addr: str | None = "remote_addr"
    upgrade: str | None = None

    @model_validator(mode="after")
    def _paths(self) -> JsonFields:
        for name, key in self.model_dump().items():
            if key is not None and (not key or any(not part for part in key.split("."))):
                raise ValueError(f"{name}: {key!r} is not a key or a dotted path")
        if self.path is None and self.request is None:
            raise ValueError("path or request must be mapped: a line needs its path")
        return self


class WebsocketRule(_Section):
    """What makes a line websocket traffic (besides a `channel` field): a path prefix or regex, an
    ``upgrade`` field/group saying ``websocket``, or uvicorn's ``WebSocket`` pseudo-method."""

    path_prefixes: list[str] = Field(default_factory=lambda: ["/ws"])
    path_regex: str | None = None

    @field_validator("path_regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            _compile(value)
        return value


class InsufficientFundsRule(_Section):
    """What marks a 403 as the broker's insufficient-funds refusal (a trading outcome, not an auth failure)."""

    error_codes: list[int] = Field(default_factory=lambda: [40310000])
    reasons: list[str] = Field(default_factory=lambda: ["insufficient_funds"])
    paths: list[str] = Field(default_factory=list, description="path prefixes whose 403 is the broker's refusal")


class AccessLogFormat(_Section):
    format: LogFormatName = "json"
    fields: JsonFields = JsonFields()
    regex: str | None = None
    timestamp_format: str | None = Field(None, description="strptime format of the regex's `ts` group")
    websocket: WebsocketRule = WebsocketRule()
    api_path_prefixes: list[str] = Field(
        default_factory=list, description="only these paths are the api channel (default: every other line)"
    )
    insufficient_funds: InsufficientFundsRule = InsufficientFundsRule()
    client_identity: list[ClientSource] = Field(default_factory=lambda: list(CLIENT_SOURCES), min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> AccessLogFormat:
        if self.format == "regex":
            if not self.regex:
                raise ValueError("regex: required when format is regex")
            check_line_regex(self.regex)
        elif self.regex is not None:
            raise ValueError(f"regex: only with format regex (format is {self.format})")
        if self.format != "json" and self.fields != JsonFields():
            raise ValueError(f"fields: only with format json (format is {self.format})")
        return self


def _compile(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"not a regular expression: {exc}") from None


def check_line_regex(pattern: str) -> re.Pattern[str]:
    """Compile an access-log regex; its named groups must be known, with `status` and `path` or `request`."""
    compiled = _compile(pattern)
    groups = set(compiled.groupindex)
    unknown = sorted(groups - set(LINE_FIELDS))
    if unknown:
        raise ValueError(f"regex: unknown named group(s) {unknown} (known: {', '.join(LINE_FIELDS)})")
    if "status" not in groups:
        raise ValueError("regex: the named group 'status' is required")
    if not groups & {"path", "request"}:
        raise ValueError("regex: a named group 'path' or 'request' is required")
    return compiled


JsonScalar = str | bool | int | float | None


class HealthField(_Section):
    """One field of /health/ready: its dotted JSON path and the values that mean healthy (or degraded)."""

    path: str
    name: str | None = Field(None, description="the `field` label (default: the path)")
    healthy: list[JsonScalar] | None = None
    degraded: list[JsonScalar] | None = None
    when_missing: Literal["degraded", "healthy"] = "degraded"

    @model_validator(mode="after")
    def _one_list(self) -> HealthField:
        if any(not part for part in self.path.split(".")):
            raise ValueError(f"path: {self.path!r} is not a dotted path")
        if (self.healthy is None) == (self.degraded is None):
            raise ValueError(f"{self.path}: give exactly one of healthy or degraded (the values that mean it)")
        return self

    @property
    def label(self) -> str:
        return self.name or self.path


class HealthConfig(_Section):
    degraded_fields: list[HealthField] = Field(default_factory=list, max_length=32)

    @model_validator(mode="after")
    def _unique(self) -> HealthConfig:
        labels = [field.label for field in self.degraded_fields]
        twice = sorted({label for label in labels if labels.count(label) > 1})
        if twice:
            raise ValueError(f"degraded_fields: field name(s) {twice} given twice")
        return self


class HookConfig(_Section):
    """A reconcile/restart hook: an HTTP call (`url`) or a command (`command`, an argv list, never a shell)."""

    url: str | None = None
    method: Literal["POST", "PUT", "PATCH", "GET", "DELETE"] = "POST"
    headers: dict[str, str] = Field(default_factory=dict)
    secret_headers: dict[str, str] = Field(default_factory=dict, description="header -> variable holding its value")
    bearer_token_env: str | None = None
    command: list[str] | None = None
    pass_env: list[str] = Field(default_factory=list, description="variables the command inherits (besides PATH)")
    timeout_seconds: float = Field(10.0, gt=0, le=3600)

    @model_validator(mode="after")
    def _one_kind(self) -> HookConfig:
        if (self.url is None) == (self.command is None):
            raise ValueError("give exactly one of url (an HTTP call) or command (an argv list)")
        if self.url is not None:
            http_url(self.url)
            if self.pass_env:
                raise ValueError("pass_env: only for a command")
        else:
            self._check_command()
        for name in [*self.secret_envs, *self.pass_env]:
            env_name(name)
        return self

    def _check_command(self) -> None:
        if not self.command or not self.command[0].strip():
            raise ValueError("command: an argv list with the program first, e.g. [systemctl, restart, tradingbot]")
        if len(self.command) == 1 and " " in self.command[0]:
            raise ValueError(f"command: {self.command[0]!r} is one string; give the argv as a list, never a shell line")
        if self.headers or self.secret_headers or self.bearer_token_env or self.method != "POST":
            raise ValueError("headers, secret_headers, bearer_token_env and method are only for a url")

    @property
    def secret_envs(self) -> list[str]:
        """Variables whose values the hook sends (they must be set when the responder starts)."""
        return [*self.secret_headers.values(), *filter(None, [self.bearer_token_env])]


class HooksConfig(_Section):
    restart: HookConfig | None = None
    reconcile: HookConfig | None = None


class BotConfig(_Section):
    base_url: str
    access_log: Path | None = Field(None, description="the bot's access log; null when it has no usable one")
    access_log_format: AccessLogFormat = AccessLogFormat()
    health: HealthConfig = HealthConfig()
    hooks: HooksConfig = HooksConfig()
    restart_url: str | None = Field(None, description="legacy: POST with the service-role bearer (= hooks.restart)")
    reconcile_url: str | None = Field(None, description="legacy: the same for hooks.reconcile")

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        return http_url(value)

    @model_validator(mode="after")
    def _legacy_hooks(self) -> BotConfig:
        for name in HOOK_NAMES:
            legacy = getattr(self, f"{name}_url")
            if legacy is not None and getattr(self.hooks, name) is not None:
                raise ValueError(f"{name}_url and hooks.{name} are both set: keep hooks.{name} only")
            if legacy is not None:
                http_url(legacy)
        return self

    def hook(self, name: str) -> HookConfig | None:
        """The configured hook, with the legacy ``<name>_url`` read as a POST with the service-role bearer."""
        configured: HookConfig | None = getattr(self.hooks, name)
        legacy: str | None = getattr(self, f"{name}_url")
        if configured is None and legacy is not None:
            return HookConfig(url=legacy, bearer_token_env=LEGACY_HOOK_SECRET_ENV)
        return configured


def describe_hook(hook: HookConfig) -> dict[str, Any]:
    """What a hook does, for records and logs (names of secret variables, never their values)."""
    if hook.command is not None:
        return {"kind": "command", "argv": list(hook.command), "timeout_seconds": hook.timeout_seconds}
    return {"kind": "http", "method": hook.method, "url": hook.url, "timeout_seconds": hook.timeout_seconds}
