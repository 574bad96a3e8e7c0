"""What docker-compose.yml runs besides the project's services, run for real here.

scripts/compose-secrets.py, the image's entry point (PGPASSWORD_FILE), the receivers stand-in, and the
PostgreSQL init script (against TEST_DATABASE_URL, with throwaway names), with the project's services
then running on the roles it created.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import jwt
import psycopg
import pytest
import requests
import yaml
from psycopg import sql
from sqlalchemy.engine import make_url

from common.config import SeedConfig
from common.db import make_engine
from simulator.bot.seed import ensure_seeded
from simulator.secrets import api_key_jwt, generate_local_secrets
from tests.deploy import composefile as cf
from tests.support import databases
from tests.support.ports import free_port, wait_for_port

ENTRYPOINT = cf.REPO / "deploy" / "docker" / "entrypoint.sh"
STUB = cf.REPO / "deploy" / "compose" / "receivers" / "receiver_stub.py"
INIT_SCRIPT = cf.REPO / "deploy" / "compose" / "postgres" / "init-databases.sh"


def run_secrets(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(cf.SECRETS_SCRIPT), "--dir", str(directory), *args],
                          capture_output=True, text=True, timeout=60)


def read_all(directory: Path) -> dict[str, str]:
    return {path.name: path.read_text(encoding="utf-8") for path in directory.iterdir()}


def test_secrets_script_writes_random_private_files(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    assert run_secrets(first).returncode == 0 and run_secrets(second).returncode == 0
    one, two = read_all(first), read_all(second)
    assert set(one) == set(two) and len(one) >= 15
    assert first.stat().st_mode & 0o777 == 0o700
    for name, value in one.items():
        assert value and value == value.strip(), f"{name}: empty or with whitespace (e.g. a trailing newline)"
        assert (first / name).stat().st_mode & 0o777 == 0o644
        if name != "slack_webhook_url":
            assert value != two[name], f"{name} is not random"


def test_secrets_script_covers_every_secret_of_the_local_stack(tmp_path: Path) -> None:
    run_secrets(tmp_path)
    names = set(read_all(tmp_path))
    missing = {var for var in generate_local_secrets() if var.lower() not in names}
    assert not missing, f"the local stack has secrets the Compose stack does not: {missing}"


def test_secrets_script_signs_supabase_keys_like_the_simulator(tmp_path: Path) -> None:
    run_secrets(tmp_path)
    values = read_all(tmp_path)
    secret = values["supabase_jwt_secret"]
    reference = jwt.decode(api_key_jwt(secret, "anon"), secret, algorithms=["HS256"])
    for name, role in (("supabase_anon_key", "anon"), ("supabase_service_role_key", "service_role")):
        header = jwt.get_unverified_header(values[name])
        claims = jwt.decode(values[name], secret, algorithms=["HS256"])
        assert header["alg"] == "HS256" and claims["role"] == role
        assert set(claims) == set(reference) and claims["iss"] == reference["iss"]


def test_secrets_script_keeps_existing_values_and_re_signs_after_a_new_jwt_secret(tmp_path: Path) -> None:
    run_secrets(tmp_path)
    (tmp_path / "pagerduty_routing_key").write_text("the-real-key", encoding="utf-8")
    before = read_all(tmp_path)
    again = run_secrets(tmp_path)
    assert again.returncode == 0 and "wrote 0" in again.stdout
    assert read_all(tmp_path) == before
    (tmp_path / "supabase_jwt_secret").unlink()
    run_secrets(tmp_path)
    after = read_all(tmp_path)
    jwt.decode(after["supabase_anon_key"], after["supabase_jwt_secret"], algorithms=["HS256"])
    assert after["supabase_anon_key"] != before["supabase_anon_key"]
    assert after["db_password"] == before["db_password"] and after["pagerduty_routing_key"] == "the-real-key"
    run_secrets(tmp_path, "--force")
    assert read_all(tmp_path)["pagerduty_routing_key"] != "the-real-key"


def test_secrets_script_lists_what_each_file_holds(tmp_path: Path) -> None:
    listed = run_secrets(tmp_path, "--list")
    assert listed.returncode == 0 and not tmp_path.joinpath("db_password").exists()
    run_secrets(tmp_path)
    for name in read_all(tmp_path):
        assert f"\n{name} " in f"\n{listed.stdout}", name


def entrypoint(env: dict[str, str], *command: str) -> subprocess.CompletedProcess[str]:
    clean = {key: value for key, value in os.environ.items() if not key.startswith("PGPASSWORD")}
    return subprocess.run(["sh", str(ENTRYPOINT), *command], env={**clean, **env}, capture_output=True, text=True,
                          timeout=30)


def test_entrypoint_exports_the_password_file_and_runs_the_command(tmp_path: Path) -> None:
    password = tmp_path / "db_password"
    password.write_text("p@ss word$", encoding="utf-8")  # no newline, as the secrets script writes it
    show = ("sh", "-c", 'printf "%s|%s" "$PGPASSWORD" "$0"', "arg0")
    assert entrypoint({"PGPASSWORD_FILE": str(password)}, *show).stdout == "p@ss word$|arg0"
    password.write_text("with-newline\n", encoding="utf-8")
    assert entrypoint({"PGPASSWORD_FILE": str(password)}, *show).stdout == "with-newline|arg0"
    assert entrypoint({"PGPASSWORD_FILE": str(password), "PGPASSWORD": "given"}, *show).stdout == "given|arg0"
    assert entrypoint({}, *show).stdout == "|arg0"
    missing = entrypoint({"PGPASSWORD_FILE": str(tmp_path / "nope")}, "true")
    assert missing.returncode == 2 and "PGPASSWORD_FILE" in missing.stderr
    assert entrypoint({}, "sh", "-c", "exit 7").returncode == 7


@pytest.fixture
def stub() -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    process = subprocess.Popen([sys.executable, str(STUB), "--host", "127.0.0.1", "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}", process
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


def test_receivers_stand_in_accepts_notifications_and_shows_them(stub: tuple[str, subprocess.Popen[str]]) -> None:
    url, process = stub
    assert requests.get(f"{url}/healthz", timeout=5).status_code == 200
    body = {"status": "firing", "alerts": [{"labels": {"alertname": "Watchdog"}}], "version": "4"}
    posted = requests.post(f"{url}/ping/tradingbot-alertmanager", json=body, timeout=5,
                           headers={"Host": "heartbeat:8080", "Authorization": "Bearer t"})
    assert posted.status_code == 200
    assert requests.post(f"{url}/alertmanager", data=b"not json", timeout=5, headers={"Host": "tickets"}).ok
    received = requests.get(f"{url}/received", timeout=5).json()
    assert [(r["host"], r["path"], r["authorized"]) for r in received] == [
        ("heartbeat", "/ping/tradingbot-alertmanager", True), ("tickets", "/alertmanager", False)]
    assert received[0]["body"] == body and received[1]["body"] == "not json"
    assert requests.get(f"{url}/nothing", timeout=5).status_code == 404
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=5) == 0
    out, _err = process.communicate(timeout=5)
    assert '"host": "heartbeat"' in out and '"alerts": 1' in out and "Bearer t" not in out


@pytest.mark.postgres
@pytest.mark.skipif(shutil.which("psql") is None, reason="psql not installed")
def test_postgres_init_script_creates_the_databases_and_roles(postgres_available: None, tmp_path: Path) -> None:
    admin = make_url(databases.admin_url())
    suffix = uuid.uuid4().hex[:8]
    names = {"TRADINGBOT_DB_USER": f"tb_app_{suffix}", "TRADINGBOT_EXPORTERS_DB_USER": f"tb_ro_{suffix}",
             "TRADINGBOT_BOT_DB": f"tb_bot_{suffix}", "TRADINGBOT_LEDGER_DB": f"tb_ledger_{suffix}"}
    (tmp_path / "app").write_text("app-pw", encoding="utf-8")
    (tmp_path / "ro").write_text("ro-pw", encoding="utf-8")
    env = {**os.environ, **names, "TRADINGBOT_DB_PASSWORD_FILE": str(tmp_path / "app"),
           "TRADINGBOT_EXPORTERS_DB_PASSWORD_FILE": str(tmp_path / "ro"), "POSTGRES_USER": admin.username or "",
           "POSTGRES_DB": admin.database or "postgres", "PGHOST": admin.host or "127.0.0.1",
           "PGPORT": str(admin.port or 5432), "PGPASSWORD": admin.password or ""}
    try:
        result = subprocess.run(["bash", str(INIT_SCRIPT)], env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        check_init_result(admin.host or "127.0.0.1", admin.port or 5432, names)
        services_run_on_the_roles(admin.host or "127.0.0.1", admin.port or 5432, names, tmp_path)
    finally:
        drop_init_result(names)


def services_run_on_the_roles(host: str, port: int, names: dict[str, str], tmp_path: Path) -> None:
    """The simulator seeds as the owner, the exporters scrape as the read-only role, the responder's
    start-up check creates its ledger: config/compose.yml with this server's host and the test's names."""
    raw = yaml.safe_load(cf.COMPOSE_CONFIG.read_text(encoding="utf-8"))
    raw["bot"]["access_log"] = str(tmp_path / "access.log")
    raw["responder"].update(playbooks=str(cf.REPO / "responder" / "playbooks.yml"), rca_dir=str(tmp_path / "rca"),
                            runbooks=str(cf.REPO / "docs" / "runbooks.md"))
    config = tmp_path / "compose.yml"
    config.write_text(yaml.safe_dump(raw), encoding="utf-8")

    def url(role: str, database: str) -> str:
        return f"postgresql://{names[role]}@{host}:{port}/{names[database]}"

    app_url = url("TRADINGBOT_DB_USER", "TRADINGBOT_BOT_DB")
    engine = make_engine(app_url.replace("@", ":app-pw@", 1))
    try:
        assert ensure_seeded(engine, SeedConfig(), datetime.now(UTC)) is not None
    finally:
        engine.dispose()
    unreachable = "http://127.0.0.1:9"
    env = {**os.environ, "APCA_API_SECRET_KEY": "k", "PROBE_USER_EMAIL": "p@example.com", "PROBE_USER_PASSWORD": "p",
           "RESPONDER_WEBHOOK_TOKEN": "deploy-test-webhook-token-0123456789", "BROKER_BASE_URL": unreachable,
           "SUPABASE_URL": unreachable}
    scrape = subprocess.run(
        [sys.executable, "-m", "exporters", "--config", str(config), "--once"], cwd=cf.REPO, capture_output=True,
        text=True, timeout=120,
        env={**env, "BOT_DB_URL": url("TRADINGBOT_EXPORTERS_DB_USER", "TRADINGBOT_BOT_DB"), "PGPASSWORD": "ro-pw"},
    )
    assert scrape.returncode == 0, scrape.stderr
    assert 'tradingbot_collector_up{collector="stale_backlog"} 1.0' in scrape.stdout
    check = subprocess.run(
        [sys.executable, "-m", "responder", "--config", str(config), "--check"], cwd=cf.REPO, capture_output=True,
        text=True, timeout=120,
        env={**env, "BOT_DB_URL": app_url, "LEDGER_DB_URL": url("TRADINGBOT_DB_USER", "TRADINGBOT_LEDGER_DB"),
             "PGPASSWORD": "app-pw", "SUPABASE_SERVICE_ROLE_KEY": "s"},  # the bot's hooks send it (compose gives it)
    )
    assert check.returncode == 0, check.stderr


def admin_connection() -> psycopg.Connection[tuple[object, ...]]:
    url = make_url(databases.admin_url()).set(drivername="postgresql").render_as_string(hide_password=False)
    return psycopg.connect(url, autocommit=True, connect_timeout=5)


def connect(host: str, port: int, user: str, password: str, dbname: str) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(host=host, port=port, user=user, password=password, dbname=dbname, autocommit=True,
                           connect_timeout=5)


def check_init_result(host: str, port: int, names: dict[str, str]) -> None:
    app, reader = names["TRADINGBOT_DB_USER"], names["TRADINGBOT_EXPORTERS_DB_USER"]
    bot, ledger = names["TRADINGBOT_BOT_DB"], names["TRADINGBOT_LEDGER_DB"]
    with connect(host, port, app, "app-pw", bot) as conn:  # the bot's owner creates tables later (the simulator)
        conn.execute("CREATE TABLE init_check (id text PRIMARY KEY, status text)")
        conn.execute("INSERT INTO init_check VALUES ('p-1', 'active')")
    with connect(host, port, app, "app-pw", ledger) as conn:  # the responder creates its ledger schema
        conn.execute("CREATE TABLE ledger_check (id serial PRIMARY KEY)")
        conn.execute("DROP TABLE ledger_check")
    with connect(host, port, reader, "ro-pw", bot) as conn:
        assert conn.execute("SELECT status FROM init_check").fetchall() == [("active",)]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("UPDATE init_check SET status = 'inactive'")
    with pytest.raises(psycopg.OperationalError):
        connect(host, port, reader, "ro-pw", ledger).close()
    with admin_connection() as conn:
        rows = conn.execute("SELECT rolname, rolpassword IS NOT NULL, rolsuper FROM pg_authid "
                            "WHERE rolname IN (%s, %s)", (app, reader)).fetchall()
        owners = conn.execute("SELECT datname, pg_get_userbyid(datdba) FROM pg_database WHERE datname IN (%s, %s)",
                              (bot, ledger)).fetchall()
    assert sorted(rows) == sorted([(app, True, False), (reader, True, False)])
    assert {row[0]: row[1] for row in owners} == {bot: app, ledger: app}


def drop_init_result(names: dict[str, str]) -> None:
    with admin_connection() as conn:
        for key in ("TRADINGBOT_BOT_DB", "TRADINGBOT_LEDGER_DB"):
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(names[key])))
        for key in ("TRADINGBOT_EXPORTERS_DB_USER", "TRADINGBOT_DB_USER"):
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(names[key])))
