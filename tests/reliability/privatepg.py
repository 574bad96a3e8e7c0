"""A private PostgreSQL server for tests that stop and restart it: ``initdb`` into a temporary directory,
``pg_ctl`` on a free port, so the machine's shared server (and every other test using it) is never touched.

PostgreSQL refuses to run as root: as root the server runs as the ``postgres`` user (``runuser``).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

from tests.support.ports import free_port


def _bindir() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(candidates[-1]).parent if candidates else None


def unavailable() -> str | None:
    """None when a private server can be started here, else why not."""
    if _bindir() is None:
        return "no initdb/pg_ctl (PostgreSQL server binaries) on this machine"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no 'postgres' user to run the server as"
        if shutil.which("runuser") is None:
            return "running as root without runuser"
    return None


@dataclass
class PrivatePostgres:
    bindir: Path
    base: Path
    port: int

    @property
    def data(self) -> Path:
        return self.base / "data"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 60) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({done.returncode}): {done.stderr.decode()[-2000:]}\n"
                               f"{self.log()}")

    def log(self) -> str:
        path = self.base / "server.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def start(self) -> None:
        options = f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.base / "server.log"), "-w",
                  "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: ``fast`` (clean, disconnects everyone) or ``immediate`` (like a crash)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def answers(self) -> bool:
        try:
            with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", connect_timeout=2):
                return True
        except psycopg.Error:
            return False


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """initdb + start on a free port; stopped and removed afterwards."""
    bindir = _bindir()
    assert bindir is not None
    base = Path(tempfile.mkdtemp(prefix="reliability-pg-"))
    if os.geteuid() == 0:
        entry = pwd.getpwnam("postgres")
        os.chown(base, entry.pw_uid, entry.pw_gid)
    server = PrivatePostgres(bindir, base, free_port())
    try:
        server._run("initdb", "-D", str(server.data), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8",
                    timeout=120)
        server.start()
        yield server
    finally:
        try:
            if (server.data / "postmaster.pid").exists():
                server.stop("immediate")
        finally:
            shutil.rmtree(base, ignore_errors=True)
