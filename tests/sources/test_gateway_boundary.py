"""The gateway (`sources/botdata`) is the one way to the bot's data: outside it (and the simulator's bot
schema, `sources/botdb.py`), no code imports the bot's table objects or writes SQL naming the bot's tables.
The simulator is exempt: it plays the bot and writes its own tables (anything that observes the bot from
outside goes through the gateway)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BOT_TABLES = ("broker_accounts", "profiles", "orders", "positions")
TABLE_OBJECTS = {*BOT_TABLES, "metadata", "create_schema", "drop_schema"}
# Production code outside the bot: every stage downstream of the bot's data, and the tools around them.
CHECKED = ("sources", "common", "exporters", "responder", "stack", "bench", "scripts", "deploy", "doctor")
EXEMPT = (
    "sources/botdata/",  # the gateway itself
    "sources/botdb.py",  # the simulator's bot schema (the default mapping describes it)
    # the peers `make bench` compares against are configured with their own SQL, as their users would
    "bench/sqlexporter.py",
    "bench/queryexporter.py",
)
SQL_ON_BOT_TABLES = re.compile(
    r"\b(?:from|join|update|into|table)\s+[\"`]?(?:\w+\.)?(?:" + "|".join(BOT_TABLES) + r")\b", re.IGNORECASE
)


def violations(source: str) -> list[str]:
    """What in `source` reaches the bot's tables without the gateway: table-object imports, SQL strings."""
    tree = ast.parse(source)
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "sources.botdb":
            found += [f"line {node.lineno}: imports {a.name} from sources.botdb" for a in node.names
                      if a.name in TABLE_OBJECTS or a.name == "*"]
        elif (isinstance(node, ast.ImportFrom) and node.module == "sources" and any(
            a.name == "botdb" for a in node.names
        )) or (isinstance(node, ast.Import) and any(a.name == "sources.botdb" for a in node.names)):
            found.append(f"line {node.lineno}: imports sources.botdb")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            match = SQL_ON_BOT_TABLES.search(node.value)
            if match:
                found.append(f"line {node.lineno}: SQL on the bot's tables: {match.group(0)!r}")
    return found


def checked_files() -> list[Path]:
    files = [path for package in CHECKED for path in sorted((REPO / package).rglob("*.py"))]
    return [path for path in files if not path.relative_to(REPO).as_posix().startswith(EXEMPT)]


def test_no_code_outside_the_gateway_touches_the_bot_tables() -> None:
    files = checked_files()
    assert len(files) > 50  # the scan really covers the code
    found = {
        path.relative_to(REPO).as_posix(): problems
        for path in files
        if (problems := violations(path.read_text(encoding="utf-8")))
    }
    assert found == {}, "use the gateway (sources/botdata) instead:\n" + "\n".join(
        f"{path}: {problem}" for path, problems in found.items() for problem in problems
    )


@pytest.mark.parametrize(
    "source",
    [
        "from sources.botdb import orders\n",
        "from sources.botdb import WORKING_STATUSES, profiles as p\n",
        "import sources.botdb\n",
        "from sources import botdb\n",
        "QUERY = 'SELECT id FROM orders WHERE status = :s'\n",
        "def f():\n    return conn.exec_driver_sql('update public.profiles set status = 1')\n",
        'x = f"INSERT INTO positions VALUES ({v})"\n',
    ],
)
def test_the_scan_finds_each_way_around_the_gateway(source: str) -> None:
    assert violations(source)


@pytest.mark.parametrize(
    "source",
    [
        '"""Reads FROM orders through the gateway."""\n',  # a docstring describing it
        "from sources.botdb import WORKING_STATUSES\n",  # the simulator's words are not its tables
        "QUERY = 'SELECT * FROM alerts'\n",  # the responder's own ledger
        "from sources.botdata import BotData\n",
    ],
)
def test_the_scan_leaves_the_rest_alone(source: str) -> None:
    assert violations(source) == []
