"""Local copies of alerts/prometheus.yml and alerts/alertmanager.yml for the stack and the tests.

The copies change only what a deployment changes (docs/alerting.md): Prometheus gets local targets, the
repository's rule files and short intervals; Alertmanager gets local receiver URLs (the responder's
real URL, sinks standing in for PagerDuty, Slack, tickets and the heartbeat), local secret files and the
repository's templates. Rules, routes, grouping, timings and inhibitions are the committed ones.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
ALERTS = REPO / "alerts"

# Where the committed rules' `runbook_url`s point: docs/runbooks.md as the responder serves it, at its
# public URL + `/runbooks` (one section per alert, `#<alert name in lower case>`), here the local responder's
# (config/local.yml). A deployment renders the rules with its responder's public URL (or wherever it serves
# the runbooks) as the base (`with_runbook_base`, docs/alerting.md "Runbook links"); the local stack does so
# itself when its responder listens elsewhere.
DEFAULT_RUNBOOK_BASE_URL = "http://127.0.0.1:9809/runbooks"
_RUNBOOK_URL = re.compile(r"^(?P<key>\s*runbook_url:\s*)(?P<base>[^#\s]+)(?P<anchor>#[a-z0-9_-]+)[ \t]*$", re.M)


class RunbookBaseError(ValueError):
    """A runbook base URL that would not open in a browser."""


def check_runbook_base(base_url: str) -> str:
    """`base_url` without a trailing slash; RunbookBaseError unless it is an absolute http(s) URL without `#`."""
    if not re.fullmatch(r"https?://[^\s/#?]+(/[^\s#]*)?", base_url):
        raise RunbookBaseError(f"runbook base URL {base_url!r}: expected an absolute http:// or https:// URL, no '#'")
    return base_url.rstrip("/")


def with_runbook_base(rules_text: str, base_url: str) -> str:
    """A rule file's text with every `runbook_url: <base>#<anchor>` pointing at `base_url` instead."""
    base = check_runbook_base(base_url)
    return _RUNBOOK_URL.sub(lambda m: f"{m['key']}{base}{m['anchor']}", rules_text)


def write_rules(directory: Path, base_url: str, rules_dir: Path = ALERTS / "rules") -> Path:
    """Copy every rule file into `directory` with its runbook links on `base_url`; return `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    for path in sorted(rules_dir.glob("*.yml")):
        (directory / path.name).write_text(with_runbook_base(path.read_text(encoding="utf-8"), base_url), "utf-8")
    return directory


@dataclass(frozen=True)
class PrometheusTargets:
    exporters: list[str]
    responders: list[str]
    alertmanagers: list[str]  # the people's (alerts/alertmanager.yml)
    automation_alertmanagers: list[str] = field(default_factory=list)  # the responder's
    prometheus: list[str] = field(default_factory=list)  # every Prometheus replica, each scraping all


def prometheus_config(
    targets: PrometheusTargets, interval_seconds: float = 1.0, rules_dir: Path = ALERTS / "rules"
) -> dict[str, Any]:
    """The committed Prometheus config with local targets, a short scrape/evaluation interval and the rule
    files of `rules_dir` (the committed ones, or a copy from `write_rules`)."""
    config: dict[str, Any] = yaml.safe_load((ALERTS / "prometheus.yml").read_text(encoding="utf-8"))
    interval = f"{int(interval_seconds * 1000)}ms"
    config["global"].update({"scrape_interval": interval, "evaluation_interval": interval, "scrape_timeout": interval})
    config["rule_files"] = [str(rules_dir / "*.yml")]
    sets = [targets.alertmanagers, targets.automation_alertmanagers]
    config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": s}]} for s in sets if s]}
    jobs = {
        "tradingbot-exporters": targets.exporters,
        "tradingbot-responder": targets.responders,
        "prometheus": targets.prometheus,
        "alertmanager": targets.alertmanagers,
        "alertmanager-automation": targets.automation_alertmanagers,
    }
    config["scrape_configs"] = [
        {**job, "static_configs": [{"targets": jobs[job["job_name"]]}]}
        for job in config["scrape_configs"]
        if jobs[job["job_name"]]
    ]
    return config


PEOPLE_ALERTMANAGER = ALERTS / "alertmanager.yml"
AUTOMATION_ALERTMANAGER = ALERTS / "alertmanager-automation.yml"


def alertmanager_config(
    directory: Path,
    real_urls: dict[str, list[str]],
    sink_url: str,
    secrets: dict[str, str],
    source: Path = PEOPLE_ALERTMANAGER,
) -> dict[str, Any]:
    """A committed Alertmanager config (`source`: the people's or the automation's) with local receivers;
    secret files are written under ``<directory>/secrets`` (`secret_files` reads them back).

    `real_urls` maps a receiver name to the real URLs it delivers to (the responder replicas: one webhook
    config each); every other receiver posts to ``<sink_url>/<receiver>``. `secrets` gives the content
    of secret files by file name (e.g. the responder's bearer token); other files get a throwaway value.
    """
    config: dict[str, Any] = yaml.safe_load(source.read_text(encoding="utf-8"))
    unknown = set(real_urls) - {receiver["name"] for receiver in config["receivers"]}
    if unknown:
        raise ValueError(f"{source.name} has no receiver {', '.join(sorted(unknown))}")
    secrets_dir = directory / "secrets"
    secrets_dir.mkdir(parents=True, exist_ok=True)

    def rewrite(node: Any, receiver: str) -> None:
        if isinstance(node, list):
            for item in node:
                rewrite(item, receiver)
        elif isinstance(node, dict):
            for key, value in node.items():
                if key == "url":
                    node[key] = f"{sink_url}/{receiver}"
                elif key.endswith("_file"):
                    name = Path(value).name
                    default = f"{sink_url}/{receiver}" if key == "api_url_file" else f"local-{name}"
                    path = secrets_dir / name
                    path.write_text(secrets.get(name, default), encoding="utf-8")
                    path.chmod(0o600)
                    node[key] = str(path)
                else:
                    rewrite(value, receiver)

    for receiver in config["receivers"]:
        rewrite(receiver, receiver["name"])
        if receiver["name"] in real_urls:
            template = receiver["webhook_configs"][0]
            receiver["webhook_configs"] = [{**template, "url": url} for url in real_urls[receiver["name"]]]
    if "templates" in config:
        config["templates"] = [str(ALERTS / "templates" / "*.tmpl")]
    return config


def secret_files(directory: Path) -> dict[str, str]:
    """The secret files `alertmanager_config` wrote under `directory`, by file name."""
    return {path.name: path.read_text(encoding="utf-8") for path in sorted((directory / "secrets").iterdir())}


def write_yaml(path: Path, data: Mapping[str, Any]) -> Path:
    """Write `data` as YAML (paths become strings), creating the directory; return `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(_plain(data), sort_keys=False), encoding="utf-8")
    return path


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return str(value) if isinstance(value, Path) else value
