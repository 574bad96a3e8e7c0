"""The whole loop on one machine: simulator, exporters, responder(s), Prometheus, Alertmanagers, sinks.

`LocalStack` starts every part as a real process on loopback (the sinks run in this process), using the
project's YAML for the three services and local copies of alerts/prometheus.yml, alerts/alertmanager.yml
(the people's Alertmanager) and alerts/alertmanager-automation.yml (the responder's) (stack/render.py).
Secrets are generated once into ``<state>/secrets.env``.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from common.config import Config, load_config, split_listen
from sources.botdata import BotData
from stack.monitoring import start_alertmanagers, start_prometheus
from stack.observe import Observer
from stack.operators import SLACK_USER_IDS, ensure_operators
from stack.render import (
    ALERTS,
    DEFAULT_RUNBOOK_BASE_URL,
    RunbookBaseError,
    check_runbook_base,
    write_rules,
    write_yaml,
)
from stack.secrets import load_or_create_secrets
from stack.services import Service, ServiceGroup, StackError
from stack.sinks import SinkServer
from stack.slack import SlackStandIn

REPO = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"


@dataclass(frozen=True)
class StackOptions:
    config_path: Path
    state_dir: Path
    prometheus_ports: tuple[int, ...] = (9090,)
    alertmanager_ports: tuple[int, ...] = (9093,)  # the people's Alertmanager(s): pages, chat, tickets
    alertmanager_cluster_ports: tuple[int, ...] = ()
    automation_alertmanager_ports: tuple[int, ...] = (9095,)  # the responder's Alertmanager(s), no inhibitions
    automation_alertmanager_cluster_ports: tuple[int, ...] = ()
    responder_ports: tuple[int, ...] = ()  # empty: one responder on responder.listen
    responder_bot_db_url: str | None = None  # the responders reach the bot DB here (e.g. through a proxy)
    sink_port: int = 9805
    interval_seconds: float = 2.0
    fresh: bool = False
    extra_env: Mapping[str, str] = field(default_factory=dict)
    runbook_base_url: str | None = None  # None: the first responder's GET /runbooks
    bot_shape: str | None = None  # the simulator's --bot-shape (None: simulator.bot_shape of the config)


@dataclass
class StackUrls:
    simulator_control: str
    bot: str
    broker: str
    supabase: str
    exporters: str
    responders: list[str]
    prometheus: list[str]
    alertmanagers: list[str]
    automation_alertmanagers: list[str]
    sinks: str

    def table(self) -> list[tuple[str, str]]:
        rows = [
            ("simulator control (faults)", self.simulator_control),
            ("bot API", self.bot),
            ("broker (Alpaca stand-in)", self.broker),
            ("Supabase auth stand-in", self.supabase),
            ("exporters /metrics", self.exporters + "/metrics"),
        ]
        rows += [(f"responder {n + 1}", url) for n, url in enumerate(self.responders)]
        rows += [(f"console {n + 1}", f"{url}/console/") for n, url in enumerate(self.responders)]
        rows += [(f"Prometheus {n + 1}", url) for n, url in enumerate(self.prometheus)]
        rows += [(f"Alertmanager {n + 1} (people)", url) for n, url in enumerate(self.alertmanagers)]
        rows += [(f"Alertmanager {n + 1} (automation)", url) for n, url in enumerate(self.automation_alertmanagers)]
        rows.append(("receiver sinks (PagerDuty/Slack/tickets)", self.sinks + "/received/<receiver>"))
        rows.append(("Slack stand-in (click Approve / Reject)", self.sinks + "/slack"))
        return rows


def local_occurrence_window(interval_seconds: float) -> float:
    """The responder's occurrence window for Prometheus scraping and evaluating every `interval_seconds`:
    wide enough for an HA pair's firings of one alert (up to two intervals apart: scrape phase and
    evaluation phase), short enough never to merge two real firings (docs/responder.md)."""
    return 2.5 * interval_seconds


def _check_scrape_timeout(config: Config, interval_seconds: float) -> None:
    """The local Prometheus times a scrape out after one interval: the exporters must answer within it."""
    budget = config.section("exporters").scrape_budget_seconds
    if budget >= interval_seconds:
        raise StackError(
            f"exporters.scrape_budget_seconds ({budget:g}) must be below the local scrape interval and timeout "
            f"({interval_seconds:g} s): lower it in the config or raise --interval"
        )


class LocalStack:
    def __init__(self, options: StackOptions) -> None:
        self.options = options
        self.config: Config = load_config(options.config_path)
        _check_scrape_timeout(self.config, options.interval_seconds)
        if options.runbook_base_url is not None:
            try:
                check_runbook_base(options.runbook_base_url)
            except RunbookBaseError as exc:
                raise StackError(str(exc)) from None
        self.state = options.state_dir
        self.group = ServiceGroup()
        self.sinks: SinkServer | None = None
        self.env: dict[str, str] = {}
        self.operator_logins: dict[str, str] = {}
        self.urls = self._urls()

    def _urls(self) -> StackUrls:
        sim = self.config.section("simulator")
        exporters_host, exporters_port = split_listen(self.config.section("exporters").listen)
        return StackUrls(
            simulator_control=f"http://{sim.host}:{sim.control_port}",
            bot=self.config.bot.base_url,
            broker=self.config.broker.base_url,
            supabase=self.config.supabase.url,
            exporters=f"http://{exporters_host}:{exporters_port}",
            responders=[f"http://{HOST}:{port}" for port in self._responder_ports()],
            prometheus=[f"http://{HOST}:{port}" for port in self.options.prometheus_ports],
            alertmanagers=[f"http://{HOST}:{port}" for port in self.options.alertmanager_ports],
            automation_alertmanagers=[f"http://{HOST}:{port}" for port in self.options.automation_alertmanager_ports],
            sinks=f"http://{HOST}:{self.options.sink_port}",
        )

    def _responder_ports(self) -> tuple[int, ...]:
        if self.options.responder_ports:
            return self.options.responder_ports
        return (split_listen(self.config.section("responder").listen)[1],)

    def start(self) -> LocalStack:
        """Start every part in dependency order; on any failure stop what started and raise."""
        try:
            self._prepare()
            self.sinks = _start_sinks(self.options.sink_port, self._slack_stand_in())
            self._start_simulator()
            self._start_exporters()
            self._start_responders()
            start_alertmanagers(self.group, self.state, self.options, self.urls, self.env["RESPONDER_WEBHOOK_TOKEN"])
            start_prometheus(self.group, self.state, self.options, self.urls, self.rules_dir())
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        self.group.stop()
        if self.sinks is not None:
            self.sinks.stop()
            self.sinks = None

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def observer(self, bot: BotData, session: requests.Session) -> Observer:
        """An observer of this running stack: its first Prometheus and responder, its receiver sinks."""
        if self.sinks is None:
            raise StackError("the stack is not running: start it before observing it")
        return Observer(
            self.urls.prometheus[0],
            self.urls.responders[0],
            self.env["RESPONDER_OPERATOR_TOKEN"],
            bot,
            self.sinks,
            session,
        )

    def _slack_stand_in(self) -> SlackStandIn:
        """The Slack stand-in clicks as the local operators, signing with the responders' signing secret."""
        interactions = f"{self.urls.responders[0]}/slack/interactions"
        return SlackStandIn(self.env["SLACK_SIGNING_SECRET"], interactions, dict(SLACK_USER_IDS))

    def service(self, name: str) -> Service:
        return next(s for s in self.group.services if s.name == name)

    def _prepare(self) -> None:
        self.state.mkdir(parents=True, exist_ok=True)
        if self.options.fresh:
            self._wipe()
        self.env = {
            **load_or_create_secrets(self.state / "secrets.env"),
            "SLACK_WEBHOOK_URL": f"http://{HOST}:{self.options.sink_port}/slack-responder",
            "PYTHONUNBUFFERED": "1",
            **self.options.extra_env,
        }

    def _wipe(self) -> None:
        """Forget the previous run: databases (SQLite), access log, Prometheus/Alertmanager data, logs."""
        config = self.config
        responder = config.section("responder")
        for url in (config.bot_db.url, responder.ledger_url):
            if url.startswith("sqlite:///"):
                for suffix in ("", "-wal", "-shm"):
                    Path(url.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)
        if config.bot.access_log is not None:
            config.bot.access_log.unlink(missing_ok=True)
        if responder.rca_dir is not None:
            shutil.rmtree(responder.rca_dir, ignore_errors=True)
        for child in ("prometheus", "alertmanager", "alertmanager-automation", "logs", "config"):
            shutil.rmtree(self.state / child, ignore_errors=True)

    def _python(self, name: str, module: str, config: Path, port: int | None, *args: str) -> Service:
        argv = [sys.executable, "-m", module, "--config", str(config), *args]
        return Service(name, argv, self.state / "logs" / f"{name}.log", port, self.env, REPO)

    def _start_simulator(self) -> None:
        control = self.config.section("simulator").control_port
        shape = ("--bot-shape", self.options.bot_shape) if self.options.bot_shape else ()
        self.group.start(self._python("simulator", "simulator", self.options.config_path, control, "serve", *shape))

    def _start_exporters(self) -> None:
        port = split_listen(self.config.section("exporters").listen)[1]
        self.group.start(self._python("exporters", "exporters", self.options.config_path, port))

    def _start_responders(self) -> None:
        operators, self.operator_logins = ensure_operators(self.state)
        for n, port in enumerate(self._responder_ports()):
            config = self._responder_config(port, operators)
            self.group.start(self._python(f"responder-{n + 1}", "responder", config, port), timeout=60)

    def _responder_config(self, port: int, operators: Path) -> Path:
        """A copy of the YAML whose responder listens on `port` (several replicas on one machine), with the
        local console operators, the runbooks it serves and the automation Alertmanagers' URLs, reaching the bot DB at
        `responder_bot_db_url` when that is set."""
        raw: dict[str, Any] = self.config.model_dump(mode="json", exclude={"source"})  # paths already absolute
        raw["responder"]["listen"] = f"{HOST}:{port}"
        if self.options.responder_ports:
            raw["responder"]["alertmanager_urls"] = self.urls.automation_alertmanagers
        if self.options.responder_bot_db_url:
            raw["bot_db"]["url"] = self.options.responder_bot_db_url
        if raw["responder"].get("runbooks") is None:  # the alerts' runbook links point at this responder
            raw["responder"]["runbooks"] = str(REPO / "docs" / "runbooks.md")
        if "occurrence_window_seconds" not in self.config.section("responder").model_fields_set:
            raw["responder"]["occurrence_window_seconds"] = local_occurrence_window(self.options.interval_seconds)
        console = raw["responder"].setdefault("console", {})
        console.setdefault("operators_file", str(operators))
        console.setdefault("public_url", f"http://{HOST}:{port}")
        return write_yaml(self.state / "config" / f"responder-{port}.yml", raw)

    def runbook_base(self) -> str:
        """Where the alerts' runbook links point: the base given, else the first responder's ``/runbooks``."""
        if self.options.runbook_base_url is not None:
            return self.options.runbook_base_url
        public = self.config.section("responder").console.public_url or self.urls.responders[0]
        return f"{public.rstrip('/')}/runbooks"

    def rules_dir(self) -> Path:
        """The rule files Prometheus loads: the committed ones when their links already point at the runbook
        base, else a copy with the links on it."""
        base = self.runbook_base()
        if check_runbook_base(base) == DEFAULT_RUNBOOK_BASE_URL:
            return ALERTS / "rules"
        return write_rules(self.state / "config" / "rules", base)


def _start_sinks(port: int, slack: SlackStandIn) -> SinkServer:
    try:
        return SinkServer(HOST, port, slack).start()
    except (OSError, SystemExit):  # werkzeug exits when the port is taken
        raise StackError(f"receiver sinks: port {port} is in use (choose another with --sink-port)") from None

