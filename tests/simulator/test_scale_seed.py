"""`python -m simulator seed`: bulk loading at a small size, on SQLite and PostgreSQL, with exact counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import ColumnElement, Table, func, select

from common.db import make_engine
from simulator.bot.scale import ScalePlan, scale_seed
from sources.botdb import WORKING_STATUSES, broker_accounts, orders, positions, profiles
from tests.simulator.test_cli import run_cli
from tests.support.simulator import simulator_sections, write_config

STALE_AFTER = 300.0


def _counts(db_url: str) -> dict[str, int]:
    engine = make_engine(db_url)
    cutoff = datetime.now(UTC) - timedelta(seconds=STALE_AFTER)
    try:
        with engine.connect() as conn:
            def count(table: Table, *where: ColumnElement[bool]) -> int:
                return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())

            return {
                "accounts": count(broker_accounts), "profiles": count(profiles),
                "open_positions": count(positions, positions.c.status == "open"), "orders": count(orders),
                "working": count(orders, orders.c.status.in_(WORKING_STATUSES)),
                "stale": count(orders, orders.c.status.in_(WORKING_STATUSES), orders.c.updated_at < cutoff),
                "distinct_client_ids": int(conn.execute(
                    select(func.count(func.distinct(orders.c.client_order_id)))).scalar_one()),
                "profiles_with_orders": int(conn.execute(
                    select(func.count(func.distinct(orders.c.profile_id)))).scalar_one()),
            }
    finally:
        engine.dispose()


def test_seed_command_loads_exact_counts(tmp_path: Path, db_url: str) -> None:
    path = write_config(tmp_path / "sim.yml", simulator_sections(tmp_path, db_url))
    result = run_cli("seed", "--config", str(path), "--profiles", "50", "--accounts", "20", "--orders", "20000",
                     "--working-share", "0.05", "--stale-share", "0.4")
    assert result.returncode == 0, result.stderr
    assert "orders=20000" in result.stdout and "seconds=" in result.stdout
    assert _counts(db_url) == {
        "accounts": 20, "profiles": 50, "open_positions": 50, "orders": 20000, "working": 1000, "stale": 400,
        "distinct_client_ids": 20000, "profiles_with_orders": 50,
    }


def test_seed_is_reproducible_and_replaces_what_was_there(db_url: str) -> None:
    engine = make_engine(db_url)
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    plan = ScalePlan(10, 4, 500, 0.1, 0.5, ("AAPL", "MSFT"), STALE_AFTER, rng_seed=3)
    try:
        snapshots = []
        for _ in range(2):
            scale_seed(engine, plan, now)
            with engine.connect() as conn:
                snapshots.append(conn.execute(select(orders.c.id, orders.c.status, orders.c.broker_order_id,
                                                     orders.c.updated_at).order_by(orders.c.id)).all())
        other = scale_seed(engine, ScalePlan(10, 4, 500, 0.1, 0.5, ("AAPL", "MSFT"), STALE_AFTER, rng_seed=4), now)
        with engine.connect() as conn:
            different = conn.execute(select(orders.c.id, orders.c.status, orders.c.broker_order_id,
                                            orders.c.updated_at).order_by(orders.c.id)).all()
    finally:
        engine.dispose()
    assert len(snapshots[0]) == 500 and snapshots[0] == snapshots[1]
    assert other["orders"] == 500 and different != snapshots[0]
    assert snapshots[0][0].updated_at.tzinfo is not None


def test_seed_creates_the_sqlite_directory(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'not' / 'yet' / 'bot.sqlite3'}"
    path = write_config(tmp_path / "sim.yml", simulator_sections(tmp_path, db_url))
    result = run_cli("seed", "--config", str(path), "--profiles", "3", "--accounts", "2", "--orders", "30")
    assert result.returncode == 0, result.stderr
    assert _counts(db_url)["orders"] == 30
