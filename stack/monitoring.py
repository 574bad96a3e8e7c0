"""The local stack's Prometheus server(s) and its two sets of Alertmanagers (the people's, the automation's)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from stack.ports import HOST
from stack.render import AUTOMATION_ALERTMANAGER, PrometheusTargets, alertmanager_config, prometheus_config, write_yaml
from stack.services import Service, ServiceGroup

if TYPE_CHECKING:
    from stack.local import StackOptions, StackUrls


def start_alertmanagers(group: ServiceGroup, state: Path, options: StackOptions, urls: StackUrls, token: str) -> None:
    """The people's Alertmanager(s) (every receiver a sink) and the automation's (the responders)."""
    directory = state / "config"
    people = alertmanager_config(directory, {}, urls.sinks, {})
    _start_alertmanager_set(
        group,
        state,
        "alertmanager",
        write_yaml(directory / "alertmanager.yml", people),
        options.alertmanager_ports,
        options.alertmanager_cluster_ports,
    )
    webhook = {"responder": [f"{url}/alerts" for url in urls.responders]}
    automation = alertmanager_config(
        directory, webhook, urls.sinks, {"responder_token": token}, AUTOMATION_ALERTMANAGER
    )
    _start_alertmanager_set(
        group,
        state,
        "alertmanager-automation",
        write_yaml(directory / "alertmanager-automation.yml", automation),
        options.automation_alertmanager_ports,
        options.automation_alertmanager_cluster_ports,
    )


def _start_alertmanager_set(
    group: ServiceGroup, state: Path, name: str, config: Path, ports: tuple[int, ...], cluster: tuple[int, ...]
) -> None:
    for n, port in enumerate(ports):
        argv = [
            "prometheus-alertmanager",
            f"--config.file={config}",
            f"--storage.path={state / name / str(n + 1)}",
            f"--web.listen-address={HOST}:{port}",
            f"--web.external-url=http://{HOST}:{port}",
            "--log.level=warn",
            *_cluster_flags(cluster, n),
        ]
        log = state / "logs" / f"{name}-{n + 1}.log"
        group.start(Service(f"{name}-{n + 1}", argv, log, port, ready_path="/-/ready"))


def start_prometheus(group: ServiceGroup, state: Path, options: StackOptions, urls: StackUrls, rules: Path) -> None:
    """Prometheus server(s) scraping every part of the stack, evaluating the rule files in `rules`."""

    def hosts(found: list[str]) -> list[str]:
        return [url.removeprefix("http://") for url in found]

    targets = PrometheusTargets(
        exporters=hosts([urls.exporters]),
        responders=hosts(urls.responders),
        alertmanagers=hosts(urls.alertmanagers),
        automation_alertmanagers=hosts(urls.automation_alertmanagers),
        prometheus=hosts(urls.prometheus),
    )
    config = prometheus_config(targets, options.interval_seconds, rules)
    path = write_yaml(state / "config" / "prometheus.yml", config)
    for n, port in enumerate(options.prometheus_ports):
        argv = [
            "prometheus",
            f"--config.file={path}",
            f"--storage.tsdb.path={state / 'prometheus' / str(n + 1)}",
            f"--web.listen-address={HOST}:{port}",
            "--storage.tsdb.retention.time=1d",
            "--log.level=warn",
        ]
        log = state / "logs" / f"prometheus-{n + 1}.log"
        group.start(Service(f"prometheus-{n + 1}", argv, log, port, ready_path="/-/ready"))


def _cluster_flags(cluster_ports: tuple[int, ...], n: int) -> list[str]:
    """Gossip flags: no cluster for one Alertmanager, every other peer listed otherwise."""
    if not cluster_ports:
        return ["--cluster.listen-address="]
    peers = [f"--cluster.peer={HOST}:{port}" for i, port in enumerate(cluster_ports) if i != n]
    return [f"--cluster.listen-address={HOST}:{cluster_ports[n]}", "--cluster.reconnect-timeout=1m", *peers]
