"""Reading docker-compose.yml the way Compose does, without a Docker engine: interpolation, ports, mounts."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from common.config import load_config, split_listen

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
COMPOSE_CONFIG = REPO / "config" / "compose.yml"
SECRETS_SCRIPT = REPO / "scripts" / "compose-secrets.py"
SECRETS_DIR = "./var/compose/secrets"
CONTAINER_CONFIG = "/app/config/compose.yml"
APP_SERVICES = ("simulator", "exporters", "responder")

# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?err}, ${NAME?err}
VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")
BARE_VARIABLE = re.compile(r"(?<!\$)\$(?P<name>[A-Za-z_][A-Za-z0-9_]*)")


def raw_text() -> str:
    return COMPOSE_FILE.read_text(encoding="utf-8")


def interpolate(text: str, env: dict[str, str] | None = None) -> str:
    """Substitute ${VAR} forms as Compose does; a variable with neither a value nor a default is an error."""
    env = env or {}

    def substitute(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        value = env.get(name)
        unset = value is None or (op is not None and op.startswith(":") and value == "")
        if not unset:
            return str(value)
        if op is not None and op.endswith("-"):
            return str(arg)
        raise KeyError(f"${{{name}}} has no value and no default")

    return VARIABLE.sub(substitute, text).replace("$$", "$")


def load(env: dict[str, str] | None = None) -> dict[str, Any]:
    """docker-compose.yml with variables interpolated (defaults only, unless `env` gives values)."""
    loaded: dict[str, Any] = yaml.safe_load(interpolate(raw_text(), env))
    return loaded


def services() -> dict[str, dict[str, Any]]:
    loaded: dict[str, dict[str, Any]] = load()["services"]
    return loaded


@dataclass(frozen=True)
class PortMapping:
    host_ip: str
    host_port: int
    container_port: int


def parse_port(entry: str | int | dict[str, Any]) -> PortMapping:
    """A published port in short ("ip:host:container[/proto]") or long syntax."""
    if isinstance(entry, dict):
        return PortMapping(str(entry.get("host_ip", "")), int(entry["published"]), int(entry["target"]))
    parts = str(entry).split("/")[0].rsplit(":", 2)
    if len(parts) == 3:
        return PortMapping(parts[0], int(parts[1]), int(parts[2]))
    if len(parts) == 2:
        return PortMapping("", int(parts[0]), int(parts[1]))
    raise ValueError(f"port {entry!r} publishes no fixed host port")


@dataclass(frozen=True)
class Mount:
    source: str
    target: str
    read_only: bool

    @property
    def is_bind(self) -> bool:
        return self.source.startswith((".", "/", "~"))


def parse_volume(entry: str | dict[str, Any]) -> Mount:
    if isinstance(entry, dict):
        return Mount(str(entry["source"]), str(entry["target"]), bool(entry.get("read_only", False)))
    parts = entry.split(":")
    mode = parts[2] if len(parts) > 2 else ""
    return Mount(parts[0], parts[1], "ro" in mode.split(","))


def mounts(service: dict[str, Any]) -> list[Mount]:
    return [parse_volume(entry) for entry in service.get("volumes", [])]


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(key): str(value) for key, value in env.items()}


def secret_targets(service: dict[str, Any]) -> dict[str, str]:
    """Path inside the container -> secret name, for every secret the service mounts."""
    targets: dict[str, str] = {}
    for entry in service.get("secrets", []):
        source = entry if isinstance(entry, str) else entry["source"]
        target = source if isinstance(entry, str) else entry.get("target", source)
        targets[target if target.startswith("/") else f"/run/secrets/{target}"] = source
    return targets


def flag(command: list[str], name: str) -> str | None:
    """The value of ``--name=value`` or ``--name value`` in a command line."""
    for n, arg in enumerate(command):
        if arg.startswith(f"{name}="):
            return arg.split("=", 1)[1]
        if arg == name and n + 1 < len(command):
            return command[n + 1]
    return None


def listen_ports(name: str, service: dict[str, Any]) -> set[int]:
    """The ports a service's process listens on inside its container, from its own configuration."""
    command = [str(arg) for arg in service.get("command", [])]
    if name in APP_SERVICES:
        config = load_config(COMPOSE_CONFIG, env={})
        if name == "simulator":
            sim = config.section("simulator")
            return {sim.broker_port, sim.bot_port, sim.supabase_port, sim.control_port}
        section = config.section("exporters") if name == "exporters" else config.section("responder")
        return {split_listen(section.listen)[1]}
    if name in ("prometheus", "alertmanager", "alertmanager-automation"):
        default = "0.0.0.0:9090" if name == "prometheus" else "0.0.0.0:9093"
        return {split_listen(flag(command, "--web.listen-address") or default)[1]}
    if name == "grafana":
        return {int(environment(service).get("GF_SERVER_HTTP_PORT", "3000"))}
    if name == "postgres":
        return {int(environment(service).get("PGPORT", "5432"))}
    if name == "receivers":
        return {int(flag(command, "--port") or 8080)}
    raise AssertionError(f"service {name}: this test does not know what it listens on; teach listen_ports()")


def hostnames(all_services: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Every name a container resolves on the Compose network -> the service it reaches."""
    names = {name: name for name in all_services}
    for name, service in all_services.items():
        networks = service.get("networks", {})
        if isinstance(networks, dict):
            for network in networks.values():
                for alias in (network or {}).get("aliases", []):
                    names[alias] = name
        for key in ("hostname", "container_name"):
            if key in service:
                names[service[key]] = name
    return names


def resolve(address: str, all_services: dict[str, dict[str, Any]]) -> tuple[str, int] | None:
    """``host:port`` or a URL -> (service, port) when the host is a Compose service, else None."""
    parts = urlsplit(address if "//" in address else f"//{address}")
    service = hostnames(all_services).get(parts.hostname or "")
    if service is None:
        return None
    default = {"https": 443, "http": 80}.get(parts.scheme, 0)
    return service, parts.port or default


def generate_secrets(directory: Path) -> dict[str, str]:
    """Run the documented secrets script into `directory`; return file name -> content."""
    result = subprocess.run(
        [sys.executable, str(SECRETS_SCRIPT), "--dir", str(directory)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return {path.name: path.read_text(encoding="utf-8") for path in directory.iterdir()}
