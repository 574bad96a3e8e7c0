"""The Dockerfile, checked without a Docker engine: pinned base, COPY sources, what the image can run.

The image's file set is rebuilt in a temporary directory from the Dockerfile's COPY instructions (minus
.dockerignore), and every module of the project is imported from there alone, so a package the services
need but the Dockerfile does not copy fails here rather than at `docker compose up`.
"""

from __future__ import annotations

import fnmatch
import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy import composefile as cf

DOCKERFILE = cf.REPO / "Dockerfile"
DOCKERIGNORE = cf.REPO / ".dockerignore"
PACKAGES = ("common", "sources", "exporters", "responder", "simulator")


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    result: list[tuple[str, str]] = []
    pending = ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, args = (pending + stripped).partition(" ")
        result.append((keyword.upper(), args.strip()))
        pending = ""
    return result


def of(keyword: str) -> list[str]:
    return [args for kw, args in instructions() if kw == keyword]


def copies() -> list[tuple[list[str], str]]:
    """(sources, destination) of every COPY without --from."""
    result = []
    for args in of("COPY"):
        words = [w for w in shlex.split(args) if not w.startswith("--")]
        assert not any(w.startswith("--from") for w in shlex.split(args)), "multi-stage COPY: teach this test"
        result.append((words[:-1], words[-1]))
    return result


def ignore_patterns() -> list[str]:
    lines = DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
    return [line.strip().rstrip("/") for line in lines if line.strip() and not line.startswith("#")]


def ignored(relative: str) -> bool:
    """Whether .dockerignore keeps `relative` (or a folder above it) out of the build context; as in Docker, the
    last pattern that matches decides, and a ``!pattern`` brings back what an earlier one excluded."""
    parts = Path(relative).parts
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for line in ignore_patterns():
        pattern = line.removeprefix("!")
        for prefix in prefixes:
            if fnmatch.fnmatch(prefix, pattern) or fnmatch.fnmatch(prefix, pattern.removeprefix("**/")) or (
                pattern.startswith("**/") and fnmatch.fnmatch(Path(prefix).name, pattern[3:])
            ):
                excluded = not line.startswith("!")
    return excluded


def workdir() -> str:
    return of("WORKDIR")[-1]


def test_the_base_image_is_a_pinned_python_311_slim() -> None:
    (base,) = of("FROM")
    assert base.startswith("python:3.11.") and "-slim" in base, base
    assert cf.services()["receivers"]["image"] == base, "the receivers stand-in should reuse the same base image"


def test_copy_sources_exist_and_are_in_the_build_context() -> None:
    assert copies()
    for sources, _dest in copies():
        for source in sources:
            assert (cf.REPO / source).exists(), f"COPY {source}: no such file in the repository"
            assert not ignored(source), f"COPY {source}: excluded by .dockerignore"


def test_dockerignore_keeps_secrets_and_local_state_out() -> None:
    for path in ("var/compose/secrets/db_password", ".env", "prod.env", ".venv/bin/python", ".git/config",
                 "responder/__pycache__/x.cpython-311.pyc"):
        assert ignored(path), f"{path} would be sent to the Docker daemon"
    for package in PACKAGES:
        assert not ignored(f"{package}/__init__.py")


def test_the_project_is_installed_with_pip_from_pyproject() -> None:
    copied = {source for sources, _dest in copies() for source in sources}
    assert {"pyproject.toml", "README.md", *PACKAGES} <= copied  # README.md: pyproject's `readme`
    assert any("pip install ." in run for run in of("RUN"))


def test_entrypoint_and_command_name_real_files_and_modules() -> None:
    entrypoint = json.loads(of("ENTRYPOINT")[-1])
    destinations = {dest: sources for sources, dest in copies()}
    assert entrypoint[0] in destinations, f"ENTRYPOINT {entrypoint[0]} is copied by no COPY"
    script = cf.REPO / destinations[entrypoint[0]][0]
    assert script.stat().st_mode & 0o111 and script.read_text(encoding="utf-8").startswith("#!/bin/sh")
    assert any(f"chmod 0755 {entrypoint[0]}" in run for run in of("RUN"))
    command = json.loads(of("CMD")[-1])
    assert command[:2] == ["python", "-m"] and (cf.REPO / command[2] / "__main__.py").is_file(), command
    assert command[-2:] == ["--config", cf.CONTAINER_CONFIG]
    assert (cf.REPO / Path(cf.CONTAINER_CONFIG).relative_to(workdir())).is_file()


def test_it_runs_as_an_unprivileged_user() -> None:
    user = of("USER")[-1]
    assert user.split(":")[0] not in ("root", "0"), user


def test_it_exposes_the_ports_the_services_listen_on() -> None:
    exposed = {int(port) for args in of("EXPOSE") for port in args.split()}
    services = cf.services()
    for name in cf.APP_SERVICES:
        assert cf.listen_ports(name, services[name]) <= exposed, name


def _ignore_in_context(directory: str, names: list[str]) -> list[str]:
    relative = Path(directory).resolve().relative_to(cf.REPO)
    return [name for name in names if ignored(str(relative / name))]


def image_tree(root: Path) -> Path:
    """The files the Dockerfile copies into WORKDIR, laid out under `root` as in the image (COPY semantics:
    a directory's contents go into the destination, a file into it when it ends with a slash)."""
    app = root / workdir().lstrip("/")
    for sources, dest in copies():
        if dest.startswith("/") and not dest.startswith(workdir()):
            continue  # outside WORKDIR (the entry point)
        base = app / Path(dest).relative_to(workdir()) if dest.startswith("/") else app / dest
        for source in sources:
            src = cf.REPO / source
            if src.is_dir():
                shutil.copytree(src, base, ignore=_ignore_in_context, dirs_exist_ok=True)
            else:
                out = base / src.name if dest.endswith("/") else base
                out.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, out)
    return app


IMPORT_ALL = """
import importlib, pathlib, sys
root = pathlib.Path.cwd().resolve()
for package in sys.argv[1:]:
    for path in sorted((root / package).rglob("*.py")):
        if path.name != "__main__.py":
            importlib.import_module(".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__"))
outside = sorted(name for name, module in sys.modules.items()
                 if name.split(".")[0] in sys.argv[1:] and not str(getattr(module, "__file__", "") or "")
                 .startswith(str(root)))
print("outside:", outside)
sys.exit(1 if outside else 0)
"""


@pytest.mark.slow
def test_every_module_imports_from_the_image_files_alone(tmp_path: Path) -> None:
    app = image_tree(tmp_path)
    assert (app / "config" / "compose.yml").is_file() and (app / "responder" / "playbooks.yml").is_file()
    result = subprocess.run([sys.executable, "-c", IMPORT_ALL, *PACKAGES], cwd=app, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    for module in cf.APP_SERVICES:
        help_run = subprocess.run([sys.executable, "-m", module, "--help"], cwd=app, capture_output=True, text=True,
                                  timeout=60)
        assert help_run.returncode == 0 and "--config" in help_run.stdout, help_run.stderr
