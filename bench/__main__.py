"""``python -m bench``: run the benchmarks, print a table, write bench/results/<ts>.json.

Targets (issue 7, 2 cores, SQLite): mailflow within 2.0x of the floor, latency p50 < 0.8 s
and p95 < 1.5 s, peak memory < 300 MB reading a 20 MB spreadsheet form; (issue 15) decision
latency p50 < 0.8 s (the approver's reply reaches Dovecot → the next step's mail reaches SMTP);
(issue 17) archive search p95 < 200 ms over 100,000 requests, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.decisions import run_decisions
from bench.latency import LatencyResult, run_latency
from bench.memory import MemoryCase, run_memory
from bench.search import TARGET_P95, SearchResult, run_search
from bench.throughput import ThroughputResult, run_throughput
from mailflow_testing.databases import PG_URL, fresh_database

RESULTS = Path(__file__).resolve().parent / "results"
REPO = RESULTS.parents[1]
PARTS = ("throughput", "latency", "decisions", "memory", "search")
TARGETS = {"ratio": 2.0, "p50": 0.8, "p95": 1.5, "spreadsheet_mb": 300.0, "decision_p50": 0.8}


def _options(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--mails", type=int, default=2000, help="throughput: mails (2000)")
    parser.add_argument("--latency", type=int, default=200,
                        help="latency: mails appended one at a time (200)")
    parser.add_argument("--decisions", type=int, default=50,
                        help="decisions: approval replies appended one at a time (50)")
    parser.add_argument("--gap", type=float, default=0.2,
                        help="latency: pause after each acknowledgment, seconds (0.2)")
    parser.add_argument("--stall", action="store_true",
                        help="latency: measured while a hostile mail is being converted "
                             "(LibreOffice held on a linked picture; issue 20)")
    parser.add_argument("--only", default=",".join(PARTS),
                        help=f"comma-separated subset of {','.join(PARTS)}")
    parser.add_argument("--profile", action="store_true",
                        help="throughput: cProfile the mailflow pass into bench/results/")
    parser.add_argument("--postgres", nargs="?", const=PG_URL, default="", metavar="SERVER",
                        help="throughput and latency on PostgreSQL instead of SQLite: a fresh "
                             "database is created on SERVER for each part and dropped after "
                             f"(default {PG_URL}); the targets are SQLite's")
    parser.add_argument("--search-requests", type=int, default=100_000,
                        help="search: requests in the synthetic archive (100000)")
    parser.add_argument("--note", default="", help="free text stored with the results")
    options = parser.parse_args(argv)
    options.parts = [p.strip() for p in options.only.split(",") if p.strip()]
    unknown = set(options.parts) - set(PARTS)
    if unknown:
        parser.error(f"--only: unknown {sorted(unknown)}; choose from {','.join(PARTS)}")
    return options


def _git() -> dict[str, Any]:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True,
                              check=False)
        return done.stdout.strip()

    return {"commit": git("rev-parse", "--short", "HEAD"),
            "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}


@contextmanager
def _database(server: str) -> Iterator[str]:
    """An empty URL (SQLite under the part's own data folder), or a fresh database on
    *server*."""
    if not server:
        yield ""
        return
    with tempfile.TemporaryDirectory() as tmp, \
            fresh_database("postgresql", Path(tmp), server) as url:
        yield url


def _verdict(ok: bool) -> str:
    return "[green]PASS[/green]" if ok else "[red]MISS[/red]"


def _table(results: dict[str, Any], tp: ThroughputResult | None, lat: LatencyResult | None,
           mem: list[MemoryCase] | None, dec: LatencyResult | None = None,
           found: list[SearchResult] | None = None) -> Table:
    table = Table(title=f"mailflow benchmark {results['started']} "
                        f"({results['machine']['cpus']} cores, {results['database']})")
    for column in ("measure", "value", "target", ""):
        table.add_column(column)
    verdicts: dict[str, bool] = {}
    if tp is not None:
        c = tp.checks
        complete = (c["acks_at_server"] == c["forms_registered"] == c["floor_forms_read"]
                    == c["floor_acks_at_server"] == tp.mails and c["inbox_left"] == 0)
        fp = tp.floor_parts
        table.add_row(f"throughput, {tp.mails} form mails",
                      f"{tp.mailflow_seconds:.1f} s = {tp.mails / tp.mailflow_seconds:.1f} forms/s"
                      f" (CPU {tp.mailflow_cpu:.1f} s)",
                      "", "" if complete else "[red]INCOMPLETE[/red]")
        runs = " / ".join(f"{r:.1f}" for r in tp.floor_runs)
        table.add_row(f"  floor, mean of {runs} s (fetch + parse + forms + smtp)",
                      f"{tp.floor_seconds:.1f} s = {tp.mails / tp.floor_seconds:.1f} forms/s "
                      f"({fp['fetch']:.1f} + {fp['parse']:.1f} + {fp['forms']:.1f} + "
                      f"{fp['smtp']:.1f}; CPU {tp.floor_cpu:.1f} s)", "", "")
        verdicts["ratio"] = complete and tp.ratio <= TARGETS["ratio"]
        table.add_row("  mailflow / floor", f"{tp.ratio:.2f}", f"≤ {TARGETS['ratio']}",
                      _verdict(verdicts["ratio"]))
    if lat is not None and lat.samples:
        verdicts["p50"] = lat.p50 < TARGETS["p50"]
        verdicts["p95"] = lat.p95 < TARGETS["p95"]
        n = len(lat.samples)
        during = ""
        if lat.stalled_throughout is not None:
            during = ", while a hostile mail converts"
            verdicts["stall"] = lat.stalled_throughout
            table.add_row("hostile conversion in flight through every sample",
                          "yes" if lat.stalled_throughout else "no", "yes",
                          _verdict(lat.stalled_throughout))
        table.add_row(f"latency p50 ({n} mails, IDLE{during})", f"{lat.p50:.3f} s",
                      f"< {TARGETS['p50']} s", _verdict(verdicts["p50"]))
        table.add_row("latency p95", f"{lat.p95:.3f} s", f"< {TARGETS['p95']} s",
                      _verdict(verdicts["p95"]))
        table.add_row("latency max", f"{lat.max:.3f} s", "", "")
        if lat.hostile_answered_after is not None:
            table.add_row("hostile mail answered, after its release",
                          f"{lat.hostile_answered_after:.1f} s", "", "")
    if dec is not None and dec.samples:
        verdicts["decision_p50"] = dec.p50 < TARGETS["decision_p50"]
        table.add_row(f"decision latency p50 ({len(dec.samples)} replies, IDLE)",
                      f"{dec.p50:.3f} s", f"< {TARGETS['decision_p50']} s",
                      _verdict(verdicts["decision_p50"]))
        table.add_row("decision latency p95", f"{dec.p95:.3f} s", "", "")
    for case in mem or ():
        if case.name == "spreadsheet":
            verdicts["spreadsheet_mb"] = case.peak_rss_mb < TARGETS["spreadsheet_mb"]
            target, verdict = f"< {TARGETS['spreadsheet_mb']:.0f} MB", _verdict(
                verdicts["spreadsheet_mb"])
            label = f"peak memory, {case.size / 1e6:.0f} MB spreadsheet form"
        else:
            target, verdict = "", ""
            label = f"peak memory, {case.size / 1e6:.0f} MB mail (parse + intake)"
        table.add_row(label, f"{case.peak_rss_mb:.0f} MB RSS (Python heap "
                      f"{case.traced_peak_mb:.0f} MB, {case.seconds:.1f} s)", target, verdict)
    for result in found or ():
        for timed in result.cases:
            ok = timed.p95 < TARGET_P95
            verdicts[f"search {result.backend} {timed.name}"] = ok
            table.add_row(f"archive search, {result.requests:,} requests, {result.backend}: "
                          f"{timed.name}",
                          f"p50 {timed.p50 * 1000:.1f} ms / p95 {timed.p95 * 1000:.1f} ms",
                          f"p95 < {TARGET_P95 * 1000:.0f} ms", _verdict(ok))
    results["verdicts"] = {k: ("PASS" if v else "MISS") for k, v in verdicts.items()}
    return table


def main(argv: list[str] | None = None) -> int:
    options = _options(argv)
    console = Console()

    def progress(text: str) -> None:
        console.print(f"[dim]{text}[/dim]")

    started = datetime.now(UTC)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    RESULTS.mkdir(exist_ok=True)
    results: dict[str, Any] = {
        "started": started.isoformat(timespec="seconds"),
        "parts": options.parts,
        "options": {"mails": options.mails, "latency": options.latency, "gap": options.gap,
                    "decisions": options.decisions, "stall": options.stall},
        "database": "PostgreSQL" if options.postgres else "SQLite",
        "note": options.note,
        "git": _git(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "loadavg_start": os.getloadavg()},
    }
    out = RESULTS / f"{stamp}.json"

    def save() -> None:  # after every part: a later failure keeps what was measured
        results["machine"]["loadavg_end"] = os.getloadavg()
        out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n",
                       encoding="utf-8")

    tp = lat = dec = None
    mem = None
    if "throughput" in options.parts:
        profile = RESULTS / f"{stamp}-throughput.prof" if options.profile else None
        with _database(options.postgres) as url:
            tp = run_throughput(options.mails, profile=profile,
                                log=RESULTS / f"{stamp}-throughput.log", progress=progress,
                                database_url=url)
        results["throughput"] = tp.as_json()
        save()
        if profile:
            progress(f"profile: {profile}")
    if "latency" in options.parts:
        with _database(options.postgres) as url:
            lat = run_latency(options.latency, gap=options.gap, progress=progress,
                              database_url=url, stall=options.stall)
        results["latency"] = lat.as_json()
        save()
    if "decisions" in options.parts:
        with _database(options.postgres) as url:
            dec = run_decisions(options.decisions, gap=options.gap, progress=progress,
                                database_url=url)
        results["decisions"] = dec.as_json()
        save()
    if "memory" in options.parts:
        mem = run_memory(progress=progress)
        results["memory"] = [case.as_json() for case in mem]
    found = None
    if "search" in options.parts:
        found = run_search(options.search_requests,
                           {"sqlite": "", "postgresql": options.postgres or PG_URL}, progress)
        results["search"] = [r.as_json() for r in found]
    console.print(_table(results, tp, lat, mem, dec, found))
    save()
    console.print(f"results: {out.relative_to(REPO)}")
    return 0 if all(v == "PASS" for v in results["verdicts"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
