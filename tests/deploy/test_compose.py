"""docker-compose.yml and config/compose.yml, checked without a Docker engine.

Images pinned; every mounted, built and secret file exists or is made by scripts/compose-secrets.py;
variables have defaults; ports published on loopback, unique, and the ones the services listen on; every
host the committed Prometheus, Alertmanager and Grafana configs name is a Compose service (or a
documented external); each service gets exactly the secrets its code asks for. `docker compose config`
(or docker-compose) validates the file as well where the CLI is installed.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
import yaml
from sqlalchemy.engine import make_url

from common.bot_config import HOOK_NAMES
from common.config import Config, load_config, split_listen
from tests.deploy import composefile as cf

EXPECTED_SERVICES = {"simulator", "exporters", "responder", "prometheus", "alertmanager", "alertmanager-automation",
                     "grafana", "postgres", "receivers"}
OFFICIAL_IMAGES = {"prometheus": "prom/prometheus:v2.42.0", "alertmanager": "prom/alertmanager:v0.25.0",
                   "alertmanager-automation": "prom/alertmanager:v0.25.0"}
# Each Alertmanager service and the committed config it runs.
ALERTMANAGERS = {"alertmanager": "alertmanager.yml", "alertmanager-automation": "alertmanager-automation.yml"}
# A full version (PostgreSQL's are major.minor), optionally with a variant: never `latest` or a bare major.
PINNED_TAG = re.compile(r"^v?\d+\.\d+(\.\d+)?(-[a-z0-9.-]+)?$")
# Hosts the committed configs name that are deliberately outside the Compose project (docs/deploy.md).
EXTERNAL_HOSTS = {"events.pagerduty.com"}
INIT_SCRIPT = cf.REPO / "deploy" / "compose" / "postgres" / "init-databases.sh"
DEPLOY_DOC = cf.REPO / "docs" / "deploy.md"


@pytest.fixture(scope="module")
def services() -> dict[str, dict[str, Any]]:
    return cf.services()


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return cf.generate_secrets(tmp_path_factory.mktemp("compose-secrets"))


def service_config(service: dict[str, Any]) -> Config:
    """config/compose.yml as the service sees it (its environment's URL overrides applied)."""
    return load_config(cf.COMPOSE_CONFIG, env=cf.environment(service))


def test_the_services_of_the_loop(services: dict[str, dict[str, Any]]) -> None:
    assert set(services) == EXPECTED_SERVICES


def test_every_image_is_pinned(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        image = service.get("image", "")
        repository, _, tag = image.rpartition(":")
        if "build" in service:  # built here from the Dockerfile: its base image is checked there
            assert repository and tag and tag != "latest", f"{name}: image {image!r} needs an explicit tag"
            continue
        assert repository and PINNED_TAG.match(tag), f"{name}: image {image!r} is not pinned to a version"
    for name, image in OFFICIAL_IMAGES.items():
        assert services[name]["image"] == image
    assert services["postgres"]["image"].startswith("postgres:15.")
    assert services["grafana"]["image"].startswith("grafana/grafana:")


def test_the_project_services_build_one_image_from_the_dockerfile(services: dict[str, dict[str, Any]]) -> None:
    images = {services[name]["image"] for name in cf.APP_SERVICES}
    assert len(images) == 1, images
    for name in cf.APP_SERVICES:
        build = services[name]["build"]
        context = cf.REPO / build["context"]
        assert context.is_dir(), f"{name}: build context {build['context']} does not exist"
        assert (context / build.get("dockerfile", "Dockerfile")).is_file()
    built = {name for name, service in services.items() if "build" in service}
    assert built == set(cf.APP_SERVICES)


def test_every_bind_mount_exists_and_named_volumes_are_declared(services: dict[str, dict[str, Any]]) -> None:
    declared = set(cf.load().get("volumes") or {})
    used: set[str] = set()
    for name, service in services.items():
        for mount in cf.mounts(service):
            if mount.is_bind:
                source = cf.REPO / mount.source
                assert source.exists(), f"{name}: bind mount {mount.source} does not exist"
                assert mount.read_only, f"{name}: {mount.source} should be mounted read-only"
            else:
                assert mount.source in declared, f"{name}: volume {mount.source} is not declared"
                used.add(mount.source)
    assert used == declared, f"declared but unused volumes: {declared - used}"


def test_the_init_script_and_stub_are_mounted_where_their_images_run_them(services: dict[str, dict[str, Any]]) -> None:
    init = {m.target: m.source for m in cf.mounts(services["postgres"]) if m.is_bind}
    assert init == {"/docker-entrypoint-initdb.d/10-init-databases.sh": "./deploy/compose/postgres/init-databases.sh"}
    assert INIT_SCRIPT.stat().st_mode & 0o111, "the postgres image sources non-executable scripts: keep it +x"
    stub = {m.target: m.source for m in cf.mounts(services["receivers"])}
    command = services["receivers"]["command"]
    assert command[0] == "python" and stub.get(command[1], "").endswith("receiver_stub.py")


def test_every_secret_file_is_made_by_the_secrets_script(generated: dict[str, str]) -> None:
    secrets: dict[str, dict[str, str]] = cf.load()["secrets"]
    for name, spec in secrets.items():
        assert spec["file"] == f"{cf.SECRETS_DIR}/{name}", f"secret {name}: file should be {cf.SECRETS_DIR}/{name}"
        assert generated.get(name), f"secret {name}: scripts/compose-secrets.py does not write it"
    assert set(generated) == set(secrets), "the script writes secrets no service uses"
    ignored = subprocess.run(["git", "check-ignore", "-q", "var/compose/secrets/db_password"], cwd=cf.REPO)
    assert ignored.returncode == 0, "var/compose/secrets/ must be ignored by git"


def test_services_mount_declared_secrets_and_read_them_from_where_they_are(
    services: dict[str, dict[str, Any]],
) -> None:
    declared = set(cf.load()["secrets"])
    for name, service in services.items():
        targets = cf.secret_targets(service)
        assert set(targets.values()) <= declared, f"{name}: undeclared secrets {set(targets.values()) - declared}"
        env = cf.environment(service)
        file_vars = {key: value for key, value in env.items() if key.endswith(("_FILE", "__FILE"))}
        for key, path in file_vars.items():
            assert path in targets, f"{name}: ${key} names {path}, which is not one of its secrets"
        unread = set(targets) - set(file_vars.values())
        if name not in ALERTMANAGERS:  # their configs name their files themselves (next test)
            assert not unread, f"{name}: mounts secrets it never reads: {unread}"


@pytest.mark.parametrize("name", sorted(ALERTMANAGERS))
def test_each_alertmanager_gets_its_committed_config_and_every_file_it_reads(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    config = f"./alerts/{ALERTMANAGERS[name]}"
    mounted = {m.source: m.target for m in cf.mounts(services[name]) if m.is_bind}
    assert mounted.get(config) == cf.flag([str(a) for a in services[name]["command"]], "--config.file")
    text = (cf.REPO / "alerts" / ALERTMANAGERS[name]).read_text(encoding="utf-8")
    wanted = set(re.findall(r"_file:\s*(/\S+)", text))
    assert wanted, f"alerts/{ALERTMANAGERS[name]} names no secret files any more?"
    assert wanted == set(cf.secret_targets(services[name]))


def test_each_service_gets_the_secrets_its_code_asks_for(
    services: dict[str, dict[str, Any]], generated: dict[str, str], tmp_path: Path
) -> None:
    """Load each service's secrets the way it does at start, from the files Compose would mount."""
    from exporters.app import Secrets as ExporterSecrets
    from responder.settings import load_settings
    from simulator.secrets import load_secrets

    for name, content in generated.items():
        (tmp_path / name).write_text(content, encoding="utf-8")

    def env_of(service: str) -> dict[str, str]:
        targets = cf.secret_targets(services[service])
        env = cf.environment(services[service])
        return {key: str(tmp_path / targets[value]) if value in targets else value for key, value in env.items()}

    sim = load_secrets(service_config(services["simulator"]), env_of("simulator"))
    claims = jwt.decode(sim.service_role_key, sim.jwt_secret, algorithms=["HS256"])
    assert claims["role"] == "service_role"
    assert jwt.decode(sim.anon_key, sim.jwt_secret, algorithms=["HS256"])["role"] == "anon"
    ExporterSecrets.from_env(service_config(services["exporters"]), env_of("exporters"))
    settings = load_settings(cf.COMPOSE_CONFIG, env_of("responder"))
    missing = [key for key, value in vars(settings.secrets).items() if not value]
    assert not missing, f"responder: secrets not provided: {missing}"
    assert settings.secrets.webhook_token == generated["responder_webhook_token"]
    assert settings.secrets.service_role_key == sim.service_role_key


def test_every_variable_has_a_default_and_is_documented() -> None:
    text = cf.raw_text()
    assert not cf.BARE_VARIABLE.findall(text), "use ${VAR:-default}, not $VAR"
    names = set()
    for match in cf.VARIABLE.finditer(text):
        assert match["op"] in (":-", "-"), f"${{{match['name']}}} has no default (the secrets script writes no .env)"
        names.add(match["name"])
    cf.load()  # interpolates with defaults only: raises on anything without one
    doc = DEPLOY_DOC.read_text(encoding="utf-8")
    undocumented = {name for name in names if name not in doc}
    assert not undocumented, f"variables not documented in docs/deploy.md: {undocumented}"


def test_published_ports_are_loopback_unique_and_the_listen_ports(services: dict[str, dict[str, Any]]) -> None:
    seen: dict[int, str] = {}
    for name, service in services.items():
        listening = cf.listen_ports(name, service)
        for entry in service.get("ports", []):
            port = cf.parse_port(entry)
            assert port.host_ip == "127.0.0.1", f"{name}: {entry} is published beyond loopback by default"
            assert port.host_port not in seen, f"{name}: host port {port.host_port} is {seen.get(port.host_port)}'s"
            seen[port.host_port] = name
            assert port.container_port in listening, f"{name}: publishes {port.container_port}, listens on {listening}"
    assert "postgres" not in {seen[p] for p in seen}, "the database is reachable from the Compose network only"
    published_app = {p for p, name in seen.items() if name in cf.APP_SERVICES}
    local = load_config(cf.REPO / "config" / "local.yml", env={})
    assert split_listen(local.section("responder").listen)[1] in published_app, "same ports as the local stack"


def test_prometheus_targets_resolve_to_services_and_their_ports(services: dict[str, dict[str, Any]]) -> None:
    config = yaml.safe_load((cf.REPO / "alerts" / "prometheus.yml").read_text(encoding="utf-8"))
    targets = [t for job in config["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]]
    targets += [t for am in config["alerting"]["alertmanagers"] for sc in am["static_configs"] for t in sc["targets"]]
    assert len(targets) >= 4
    for target in targets:
        resolved = cf.resolve(target, services)
        assert resolved is not None, f"alerts/prometheus.yml: {target} is no Compose service"
        service, port = resolved
        assert port in cf.listen_ports(service, services[service]), f"{target}: {service} does not listen on {port}"


def test_alertmanager_receivers_resolve_or_are_documented_externals(
    services: dict[str, dict[str, Any]], generated: dict[str, str]
) -> None:
    urls = []
    for file in ALERTMANAGERS.values():
        config = yaml.safe_load((cf.REPO / "alerts" / file).read_text(encoding="utf-8"))
        urls += [c["url"] for r in config["receivers"] for kind, cs in r.items() if kind.endswith("_configs")
                 for c in cs if "url" in c]
    urls.append(generated["slack_webhook_url"])  # api_url_file: the generated default
    doc = DEPLOY_DOC.read_text(encoding="utf-8")
    for url in urls:
        resolved = cf.resolve(url, services)
        if resolved is None:
            host = url.split("/")[2]
            assert host in EXTERNAL_HOSTS, f"alerts/alertmanager.yml: {url}: {host} is no service and no known external"
            assert host in doc, f"docs/deploy.md does not say that {host} is external"
            continue
        service, port = resolved
        assert port in cf.listen_ports(service, services[service]), f"{url}: {service} does not listen on {port}"
    assert cf.resolve("http://heartbeat:8080/x", services) == ("receivers", 8080)


def test_grafana_provisioning_points_at_prometheus_and_the_mounted_dashboards(
    services: dict[str, dict[str, Any]],
) -> None:
    provisioning = cf.REPO / "dashboards" / "provisioning"
    datasources = yaml.safe_load(next((provisioning / "datasources").glob("*.yml")).read_text(encoding="utf-8"))
    for source in datasources["datasources"]:
        resolved = cf.resolve(source["url"], services)
        assert resolved == ("prometheus", 9090), source["url"]
    providers = yaml.safe_load(next((provisioning / "dashboards").glob("*.yml")).read_text(encoding="utf-8"))
    grafana = {m.target: m.source for m in cf.mounts(services["grafana"])}
    assert grafana["/etc/grafana/provisioning"] == "./dashboards/provisioning"
    for provider in providers["providers"]:
        assert grafana.get(provider["options"]["path"]) == "./dashboards", provider["options"]["path"]


def init_script_defaults() -> dict[str, str]:
    text = INIT_SCRIPT.read_text(encoding="utf-8")
    return dict(re.findall(r': "\$\{([A-Z_]+):=([a-z_]+)\}"', text))


def test_config_validates_and_points_at_compose_services(services: dict[str, dict[str, Any]]) -> None:
    names = init_script_defaults()
    password_file = cf.environment(services["postgres"])
    roles = {names["TRADINGBOT_DB_USER"]: password_file["TRADINGBOT_DB_PASSWORD_FILE"],
             names["TRADINGBOT_EXPORTERS_DB_USER"]: password_file["TRADINGBOT_EXPORTERS_DB_PASSWORD_FILE"]}
    for name in cf.APP_SERVICES:
        service = services[name]
        config = service_config(service)
        env = cf.environment(service)
        urls = {"bot_db.url": config.bot_db.url}
        if name == "responder":
            urls["responder.ledger_url"] = config.section("responder").ledger_url
        for key, url in urls.items():
            parsed = make_url(url)
            assert parsed.password is None, f"{name}: {key} carries a password"
            assert (parsed.host, parsed.port) == ("postgres", 5432), f"{name}: {key} {url}"
            expected_db = names["TRADINGBOT_LEDGER_DB" if "ledger" in key else "TRADINGBOT_BOT_DB"]
            assert parsed.database == expected_db, f"{name}: {key} names {parsed.database}, init creates {expected_db}"
            password = roles.get(str(parsed.username))
            assert password == env["PGPASSWORD_FILE"], f"{name}: {parsed.username}'s password is in {password}"
        http = [config.broker.base_url, config.bot.base_url, config.supabase.url]
        http += [hook.url for name in HOOK_NAMES if (hook := config.bot.hook(name)) is not None and hook.url]
        if name == "responder":
            http += config.section("responder").alertmanager_urls
        for url in http:
            resolved = cf.resolve(url, services)
            assert resolved is not None, f"{name}: {url} is no Compose service"
            assert resolved[1] in cf.listen_ports(resolved[0], services[resolved[0]]), f"{name}: {url}"
    assert make_url(service_config(services["exporters"]).bot_db.url).username == names["TRADINGBOT_EXPORTERS_DB_USER"]


def test_files_the_config_names_are_in_the_image_or_on_volumes(services: dict[str, dict[str, Any]]) -> None:
    config = load_config(cf.COMPOSE_CONFIG, env={})
    responder = config.section("responder")
    assert responder.playbooks.is_file() and responder.playbooks.is_relative_to(cf.REPO / "responder")

    def volume_for(service: str, path: Path) -> cf.Mount:
        found = [m for m in cf.mounts(services[service]) if not m.is_bind and path.is_relative_to(m.target)]
        assert found, f"{service}: {path} is on no volume"
        return found[0]

    assert not volume_for("simulator", config.bot.access_log.parent).read_only  # the bot writes its access log
    volume_for("exporters", config.bot.access_log.parent)
    volume_for("responder", config.bot.access_log.parent)
    assert responder.rca_dir is not None and not volume_for("responder", responder.rca_dir).read_only
    for name in cf.APP_SERVICES:
        config_mount = {m.target: m.source for m in cf.mounts(services[name])}
        assert config_mount.get(cf.CONTAINER_CONFIG) == "./config/compose.yml"
        if name == "simulator":
            host = config.section("simulator").host
        else:
            section = config.section("exporters") if name == "exporters" else config.section("responder")
            host = split_listen(section.listen)[0]
        assert host == "0.0.0.0", f"{name}: listens on {host}: unreachable from the other containers"


def test_commands_run_real_modules_with_options_they_accept(services: dict[str, dict[str, Any]]) -> None:
    from exporters.__main__ import parse_args as exporters_args
    from responder.cli import build_parser as responder_parser
    from simulator.cli import build_parser as simulator_parser

    parse: dict[str, Callable[[list[str]], argparse.Namespace]] = {
        "simulator": simulator_parser().parse_args,
        "responder": responder_parser().parse_args,
        "exporters": exporters_args,
    }
    for name in cf.APP_SERVICES:
        command = services[name]["command"]
        assert command[:3] == ["python", "-m", name], command
        assert (cf.REPO / name / "__main__.py").is_file()
        args = parse[name](command[3:])
        assert args.config == cf.CONTAINER_CONFIG
    assert parse["simulator"](services["simulator"]["command"][3:]).command == "serve"


def test_healthchecks_restart_policies_and_dependency_conditions(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        test = service.get("healthcheck", {}).get("test")
        assert test and test[0] in ("CMD", "CMD-SHELL"), f"{name}: no healthcheck"
        assert service.get("restart") in ("unless-stopped", "always"), f"{name}: no restart policy"
        for dependency, spec in service.get("depends_on", {}).items():
            assert dependency in services, f"{name}: depends on unknown {dependency}"
            assert spec["condition"] in ("service_healthy", "service_started"), f"{name} -> {dependency}"
    checks = {name: " ".join(service["healthcheck"]["test"]) for name, service in services.items()}
    assert "127.0.0.1:9809/health/ready" in checks["responder"]
    assert "127.0.0.1:9090/-/ready" in checks["prometheus"]
    assert "127.0.0.1:9093/-/ready" in checks["alertmanager"]
    assert "/metrics" not in checks["exporters"], "a scrape would probe the bot and the broker"
    for name, check in checks.items():
        for port in re.findall(r"127\.0\.0\.1['\"]?[:,]\s*(\d+)", check):
            assert int(port) in cf.listen_ports(name, services[name]), f"{name}: healthcheck on {port}"
    for alertmanager in ALERTMANAGERS:
        assert "127.0.0.1:9093/-/ready" in checks[alertmanager]
        assert services["prometheus"]["depends_on"][alertmanager]["condition"] == "service_healthy"
    assert services["exporters"]["depends_on"]["simulator"]["condition"] == "service_healthy"
    assert services["responder"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def compose_cli() -> list[str] | None:
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30)
        if probe.returncode == 0:
            return ["docker", "compose"]
    return ["docker-compose"] if shutil.which("docker-compose") else None


@pytest.mark.skipif(compose_cli() is None, reason="neither `docker compose` nor docker-compose is installed")
def test_the_compose_cli_accepts_the_file_and_rejects_a_broken_one(tmp_path: Path) -> None:
    cli = compose_cli()
    assert cli is not None
    ok = subprocess.run([*cli, "-f", str(cf.COMPOSE_FILE), "config", "-q"], cwd=cf.REPO, capture_output=True,
                        text=True, timeout=120)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(cf.raw_text().replace("    restart: unless-stopped\n", "    restart: unless-stopped\n"
                                            "    no_such_option: 1\n", 1), encoding="utf-8")
    bad = subprocess.run([*cli, "-f", str(broken), "--project-directory", str(cf.REPO), "config", "-q"],
                         cwd=cf.REPO, capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0


def test_dashboard_panels_have_unique_ids() -> None:
    """Grafana keeps one panel per id: a dashboard where two panels share one shows only one of them."""
    for path in sorted((cf.REPO / "dashboards").glob("*.json")):
        ids = [panel["id"] for panel in json.loads(path.read_text(encoding="utf-8"))["panels"]]
        twice = sorted({panel_id for panel_id in ids if ids.count(panel_id) > 1})
        assert twice == [], f"{path.name}: panel ids used twice: {twice}"
