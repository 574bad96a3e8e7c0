"""The results table: one row per figure, each with its peer or floor, the ratio, the target and a verdict."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

MET, MISSED, INFO = "met", "MISSED", "-"


@dataclass(frozen=True)
class Row:
    figure: str
    measured: str
    against: str
    ratio: str
    target: str
    verdict: str
    command: str


def _ms(value: float) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.1f} ms"


def _x(value: float | None) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.2f}x"


def _verdict(ok: bool) -> str:
    return MET if ok else MISSED


def scrape_rows(r: dict[str, Any]) -> list[Row]:
    ours, peer, db = r["collector"], r["sql_exporter"], r["database_ms_per_evaluation"]
    scale = r.get("scale", {})
    at = (f"{scale.get('profiles', 0):,} profiles, {scale.get('orders', 0):,} orders, "
          f"{scale.get('working_share', 0):.0%} working")
    cmd = "python -m bench --only scrape"
    p95 = ours["scrape_ms"]["p95"]
    fresh = peer["evaluation_ms"]["p95"] + peer["scrape_ms"]["p95"]
    return [
        Row(f"stale-backlog scrape p95 ({at})", _ms(p95), "-", "-", "<= 250 ms",
            _verdict(p95 <= 250), cmd),
        Row("stale-backlog scrape vs the same SQL bare (p95)", _ms(p95), f"bare SQL {_ms(ours['bare_sql_ms']['p95'])}",
            _x(ours["ratio_p95"]), "<= 1.5x", _verdict(ours["ratio_p95"] <= 1.5), cmd),
        *_python_peer_rows(ours, cmd),
        Row("database time per evaluation (EXPLAIN ANALYZE, median)", _ms(db["collector"]["median"]),
            f"sql-exporter {_ms(db['sql_exporter']['median'])}", _x(r["ratio_database_time"]), "<= 1.0x (no slower)",
            _verdict(r["ratio_database_time"] <= 1.1), cmd),
        Row("fresh exposition: our scrape p95 vs sql-exporter evaluation p95 + scrape p95", _ms(p95),
            f"sql-exporter {_ms(fresh)}", _x(r["ratio_fresh_exposition"]), "<= 1.0x (no slower)",
            _verdict(r["ratio_fresh_exposition"] <= 1.0), cmd),
        Row("process CPU per refresh (median)", _ms(ours["cpu_ms_per_scrape"]["median"]),
            f"sql-exporter {_ms(peer['cpu_ms_per_refresh'])}", _x(r["ratio_cpu_per_refresh"]), "(reported)", INFO, cmd),
    ]


def _python_peer_rows(ours: dict[str, Any], cmd: str) -> list[Row]:
    peer = ours.get("query_exporter_scrape_ms")
    if not peer:
        return []
    p95 = ours["scrape_ms"]["p95"]
    return [Row("stale-backlog scrape vs query-exporter (Python, runs the query at every scrape too; p95)",
                _ms(p95), f"query-exporter {_ms(peer['p95'])}", _x(ours["ratio_p95_to_query_exporter"]),
                "<= 1.0x (no slower)", _verdict(ours["ratio_p95_to_query_exporter"] <= 1.0), cmd)]


def scrape_strategy_rows(r: dict[str, Any]) -> list[Row]:
    ours, db = r["collector"], r["database_ms_per_evaluation"]
    scale = r.get("scale", {})
    at = f"strategy shape, {scale.get('profiles', 0):,} strategies, {scale.get('orders', 0):,} orders"
    cmd = "python -m bench --only scrape_strategy"
    p95 = ours["scrape_ms"]["p95"]
    return [
        Row(f"stale-backlog scrape p95 ({at})", _ms(p95), "-", "-", "<= 250 ms", _verdict(p95 <= 250), cmd),
        *_python_peer_rows(ours, cmd),
        Row("strategy shape: database time per evaluation (EXPLAIN ANALYZE, median)", _ms(db["collector"]["median"]),
            f"hand-written SQL {_ms(db['query_exporter']['median'])}", _x(r["ratio_database_time"]), "(reported)",
            INFO, cmd),
    ]


def ghost_rows(r: dict[str, Any]) -> list[Row]:
    cmd = "python -m bench --only ghost"
    p95 = r["scrape_s"]["p95"]
    return [
        Row(f"ghost scrape p95 ({r['accounts']:,} accounts, {r['broker_latency_ms']:g} ms broker latency)",
            f"{p95:.2f} s", f"floor {r['floor_s']:.2f} s", _x(r["ratio_p95_to_floor"]), "<= 3 s",
            _verdict(p95 <= 3.0), cmd),
        Row("ghost: broker reads per account per scrape", f"{min(r['broker_reads_per_scrape'])}-"
            f"{max(r['broker_reads_per_scrape'])} reads / {r['accounts']} accounts", "-", "-", "exactly 1",
            _verdict(r["one_read_per_account"]), cmd),
    ]


def ingest_rows(r: dict[str, Any]) -> list[Row]:
    cmd = "python -m bench --only ingest"
    closed, opened = r["closed_loop"], r["open_loop"]
    rate, bare = closed["rate_per_s"]["responder"], closed["rate_per_s"]["bare"]
    p99, bare_p99 = opened["p99_ms"]["responder"], opened["p99_ms"]["bare"]
    check = r["ledger_check"]
    return [
        Row("ingest: sustained notifications/s (wrk, PostgreSQL ledger)", f"{rate:.0f}/s", f"bare Flask {bare:.0f}/s",
            _x(closed["ratio_to_bare"]), ">= 500/s", _verdict(rate >= 500), cmd),
        Row(f"ingest: p99 ack latency at {opened['rate_per_s']:g}/s (open loop)", _ms(p99),
            f"bare Flask {_ms(bare_p99)}", _x(opened["ratio_p99_to_bare"]), "<= 50 ms", _verdict(p99 <= 50), cmd),
        Row("ingest: every acknowledged alert in the ledger", f"{check['alerts_recorded']} recorded",
            f"{check['alerts_in_acknowledged']} acknowledged", "-", "all", _verdict(check["ok"]), cmd),
        *stalled_rows(r.get("stalled"), cmd),
    ]


def stalled_rows(r: dict[str, Any] | None, cmd: str) -> list[Row]:
    """Deliveries acknowledged per second and p99 with stalled connections open, against the same without."""
    if not r:
        return []
    with_, without = r["with"], r["without"]
    at = f"{r['rate_per_s']:g}/s offered, {r['connections']} stalled connections open"
    return [
        Row(f"ingest: acknowledged/s ({at})", f"{with_['acknowledged_per_s']:.0f}/s",
            f"none stalled {without['acknowledged_per_s']:.0f}/s",
            _x(with_["acknowledged_per_s"] / without["acknowledged_per_s"] if without["acknowledged_per_s"] else None),
            ">= 0.95x", _verdict(with_["acknowledged_per_s"] >= 0.95 * without["acknowledged_per_s"]), cmd),
        Row(f"ingest: p99 ack latency ({at})", _ms(with_["p99_ms"]), f"none stalled {_ms(without['p99_ms'])}",
            _x(with_["p99_ms"] / without["p99_ms"] if without["p99_ms"] else None), "<= 50 ms",
            _verdict(with_["p99_ms"] <= 50), cmd),
    ]


def storm_rows(r: dict[str, Any]) -> list[Row]:
    cmd = "python -m bench --only storm"
    took = r["all_recorded_s"]
    rss = ", ".join(f"{name} {mib:.0f}" for name, mib in r["peak_rss_mib"].items())
    return [
        Row(f"storm: {r['alerts']:,} simultaneous ghost-alert deliveries, all recorded",
            "n/a" if took is None else f"{took:.1f} s", f"{r['recorded']}/{r['alerts']} recorded", "-", "<= 5 s",
            _verdict(took is not None and r["recorded"] == r["alerts"] and took <= 5.0), cmd),
        Row("storm: blast-radius budget applied", f"{r['profiles_deactivated']} deactivated",
            f"budget {r['budget_max_deactivations']}", "-", "= budget, rest parked", _verdict(r["budget_applied"]),
            cmd),
        Row("storm: peak RSS per process (MiB)", rss, "-", "-", "(reported)", INFO, cmd),
    ]


def storm_alertmanager_rows(r: dict[str, Any]) -> list[Row]:
    took = r["all_recorded_s"]
    failed = r.get("alertmanager_failed_notifications", 0)
    return [
        Row(f"storm through Alertmanager 0.25: {r['alerts']:,} alerts, all recorded",
            "n/a" if took is None else f"{took:.1f} s",
            f"{r['recorded']}/{r['alerts']} recorded, {failed} notify failures logged by Alertmanager", "-",
            "<= 5 s", _verdict(took is not None and r["recorded"] == r["alerts"] and took <= 5.0),
            "python -m bench --only storm"),
    ]


def mitigate_rows(r: dict[str, Any]) -> list[Row]:
    cmd = "python -m bench --only mitigate"
    target = r.get("target_seconds")
    against = f"floor {r['floor_seconds']:.0f} s"
    if r.get("old_floor_seconds"):
        against += f" (old design: {r['old_floor_seconds']:.0f} s)"
    found = [Row("ghost time-to-mitigate (end to end)", f"{r['seconds']:.1f} s", against, _x(r["ratio_to_floor"]),
                 f"<= {target:g} s" if target else "(reported vs floor)",
                 _verdict(r["seconds"] <= target) if target else INFO, cmd)]
    races = r.get("fill_races")
    if races:
        found.append(Row(f"fill races (end to end): {races['runs']} runs, the fill shown before the bot records it",
                         f"{races['false_sev1']} false SEV-1", "-", "-", "0 false SEV-1",
                         _verdict(races["runs"] > 0 and races["false_sev1"] == 0), cmd))
    soak = r.get("crypto_soak")
    if soak:
        raised = sum(soak["alerts"].values())
        found.append(Row(f"crypto soak (end to end): {soak['crypto_fills']:,} crypto fills in {soak['seconds']:.0f} s",
                         f"{raised} GhostPosition/PositionMismatch", "-", "-", ">= 500 fills, 0 alerts",
                         _verdict(soak["crypto_fills"] >= 500 and raised == 0), "pytest tests/e2e -k crypto"))
    return found


BUILDERS = {"scrape": scrape_rows, "scrape_strategy": scrape_strategy_rows, "ghost": ghost_rows,
            "ingest": ingest_rows, "storm": storm_rows, "storm_alertmanager": storm_alertmanager_rows,
            "mitigate": mitigate_rows}


def rows(results: dict[str, Any]) -> list[Row]:
    found: list[Row] = []
    for name, build in BUILDERS.items():
        result = results.get(name)
        if result is None:
            continue
        if "error" in result:
            found.append(Row(name, "ERROR", result["error"][:120], "-", "-", MISSED, f"python -m bench --only {name}"))
            continue
        found += build(result)
    return found


def markdown(table: list[Row]) -> str:
    header = ["figure", "measured", "peer / floor", "ratio", "target", "verdict", "reproduce"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in table:
        cells = [row.figure, row.measured, row.against, row.ratio, row.target, row.verdict, f"`{row.command}`"]
        lines.append("| " + " | ".join(cell.replace("|", "/") for cell in cells) + " |")
    return "\n".join(lines)
