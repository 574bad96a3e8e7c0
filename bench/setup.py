"""One YAML for the services a measurement starts: the user's config (`--config`) with free loopback
ports, throwaway databases and a work directory, plus a fresh set of local secrets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from common.config import load_config
from simulator.secrets import generate_local_secrets
from stack.ports import HOST, free_port
from stack.render import write_yaml


def bench_sections(base_config: Path, workdir: Path, bot_db: str, ledger: str | None = None) -> dict[str, Any]:
    """Every section on free ports: the simulator, the exporters and the responder, on `bot_db` and `ledger`."""
    raw: dict[str, Any] = load_config(base_config).model_dump(mode="json", exclude={"source"})
    ports = {name: free_port() for name in ("broker", "bot", "supabase", "control", "exporters", "responder")}
    raw["bot_db"]["url"] = bot_db
    raw["broker"]["base_url"] = f"http://{HOST}:{ports['broker']}"
    admin = {"bearer_token_env": "SUPABASE_SERVICE_ROLE_KEY"}
    raw["bot"].update(
        base_url=f"http://{HOST}:{ports['bot']}",
        access_log=str(workdir / "bot-access.log"),
        restart_url=None,
        reconcile_url=None,
        hooks={"restart": {"url": f"http://{HOST}:{ports['bot']}/admin/restart", **admin},
               "reconcile": {"url": f"http://{HOST}:{ports['bot']}/admin/reconcile", **admin}},
    )
    raw["supabase"]["url"] = f"http://{HOST}:{ports['supabase']}"
    simulator = raw.get("simulator") or {}
    simulator.update(host=HOST, broker_port=ports["broker"], bot_port=ports["bot"], supabase_port=ports["supabase"],
                     control_port=ports["control"])
    simulator["traffic"] = {"api_requests_per_second": 0, "websocket_connects_per_second": 0}
    raw["simulator"] = simulator
    raw["exporters"] = {**(raw.get("exporters") or {}), "listen": f"{HOST}:{ports['exporters']}"}
    responder = raw.get("responder") or {}
    responder.update(listen=f"{HOST}:{ports['responder']}", ledger_url=ledger or bot_db, alertmanager_urls=[],
                     rca_dir=str(workdir / "rca"))
    raw["responder"] = responder
    return raw


def write_config(workdir: Path, sections: dict[str, Any], name: str = "bench.yml") -> Path:
    return write_yaml(workdir / name, sections)


def local_secrets() -> dict[str, str]:
    return generate_local_secrets()


def listen_url(sections: dict[str, Any], service: str) -> str:
    return f"http://{sections[service]['listen']}"
