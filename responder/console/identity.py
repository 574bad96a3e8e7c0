"""Who the console's operators are: a YAML file of named operators with hashed secrets and Slack ids,
and optionally a trusted reverse proxy (oauth2-proxy style) that names the signed-in user in a header.

```yaml
operators:
  - name: alice
    password_hash: "scrypt:32768:8:1$..."     # python -m responder operators hash
    slack_user_id: U012ABCDEF                  # Slack approvals from this user are alice's
```

The header is believed only from the configured proxy addresses, and only for a listed operator.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from werkzeug.security import check_password_hash, generate_password_hash

from common.config import ConfigError, ConsoleConfig

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$"
# Checked against when the name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not-an-operator")


class Operator(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=NAME_PATTERN)
    password_hash: str | None = Field(None, min_length=20)
    slack_user_id: str | None = Field(None, pattern=r"^[UW][A-Z0-9]{2,20}$")


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    operators: list[Operator] = Field(min_length=1)


@dataclass(frozen=True)
class Operators:
    by_name: Mapping[str, Operator]

    @classmethod
    def of(cls, operators: Iterable[Operator]) -> Operators:
        return cls({operator.name: operator for operator in operators})

    def check_password(self, name: str, password: str) -> Operator | None:
        operator = self.by_name.get(name)
        hashed = operator.password_hash if operator and operator.password_hash else _DUMMY_HASH
        ok = check_password_hash(hashed, password)
        return operator if ok and operator is not None and operator.password_hash else None

    def by_slack_user(self, user_id: str) -> Operator | None:
        return next((o for o in self.by_name.values() if o.slack_user_id and o.slack_user_id == user_id), None)


NO_OPERATORS = Operators({})


def load_operators(path: Path | None) -> Operators:
    """Read and validate the operators file; ConfigError (one line naming the file and key) otherwise."""
    if path is None:
        return NO_OPERATORS
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the operators file: {exc.strerror}") from None
    except yaml.YAMLError:
        raise ConfigError(f"{path}: malformed YAML") from None
    try:
        parsed = _File.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in err["loc"]) or "(top level)"
        message = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        raise ConfigError(f"{path}: {where}: {message}") from None
    names = [o.name for o in parsed.operators]
    slack_ids = [o.slack_user_id for o in parsed.operators if o.slack_user_id]
    if len(set(names)) != len(names) or len(set(slack_ids)) != len(slack_ids):
        raise ConfigError(f"{path}: operators: every name and every slack_user_id must be listed once")
    return Operators.of(parsed.operators)


def trusted_proxy(config: ConsoleConfig, remote_addr: str | None) -> bool:
    """True when the request comes straight from one of the configured reverse proxies."""
    if not remote_addr:
        return False
    try:
        address = ipaddress.ip_address(remote_addr)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(net, strict=False) for net in config.trusted_proxies)
