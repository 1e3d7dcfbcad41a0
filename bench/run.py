"""Benchmarks for the foundation: generate, ingest and portfolio on a large store.

Each step runs the real ``arrears`` command in a child process; wall time comes from the clock
and peak memory from the child's resource usage (os.wait4). Results go to bench/RESULTS.md, the
newest run first, with the machine and the date. A step that fails, or an ingest that leaves the
store without the rows it was given, stops the benchmark (exit status 1, nothing written).

    scripts/bench                      # 1,000,000 loans (about half an hour on 2 cores)
    BENCH_LOANS=100000 scripts/bench   # a quick run

Knobs of bench/common.py: BENCH_RESULTS, BENCH_OUT, BENCH_BREAK (e.g. "ingest instalments").
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from common import OUT_ROOT, StepFailed, guard, machine, prepend, run_step

ROOT = Path(__file__).resolve().parents[1]
OUT = OUT_ROOT / "store"
AS_OF = "2026-11-23"
#: the ingest's batches, each timed on its own: file -> batch (any other file: "history")
BATCHES = {
    "portfolios.csv": "accounts",
    "borrowers.csv": "accounts",
    "contact_points.csv": "accounts",
    "loans.csv": "accounts",
    "instalments.csv": "instalments",
    "payments.csv": "payments",
}
#: files whose rows are checked against the store after their batch: file -> table
CHECKED = {"loans.csv": "loan", "instalments.csv": "instalment", "payments.csv": "payment"}


@dataclass
class Step:
    name: str
    seconds: float
    peak_mib: float
    rows: int = 0
    what: str = "rows"

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def run(name: str, args: list[str], env: dict[str, str]) -> Step:
    seconds, peak = run_step(name, [str(ROOT / ".venv" / "bin" / "arrears"), *args], env)
    return Step(name, seconds, peak)


def count_lines(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(1 for _ in fh) - 1


def split(data: Path) -> dict[str, Path]:
    """The generated files as batches of links, in the order they are ingested."""
    files = sorted(p.name for p in data.iterdir())
    parts: dict[str, Path] = {}
    for batch in ("accounts", "instalments", "payments", "history"):
        names = [f for f in files if BATCHES.get(f, "history") == batch]
        if not names:
            if batch == "history":
                continue
            raise StepFailed("generate", f"arrears generate --out {data}", f"no {batch} files")
        parts[batch] = OUT / batch
        parts[batch].mkdir(parents=True)
        for name in names:
            (parts[batch] / name).symlink_to(data / name)
    return parts


def check_rows(step: str, folder: Path, db: Path) -> None:
    """The store holds every row the batch's checked files have (an ingest is all or nothing:
    exit 0 with rows missing would make its rate a lie)."""
    con = sqlite3.connect(db)
    try:
        for p in sorted(folder.iterdir()):
            if p.name in CHECKED:
                have = con.execute(f"SELECT COUNT(*) FROM {CHECKED[p.name]}").fetchone()[0]
                if have != (want := count_lines(p)):
                    raise StepFailed(
                        step, f"arrears ingest {folder}", f"{p.name}: {want:,} rows, store {have:,}"
                    )
    finally:
        con.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--loans", type=int, default=int(os.environ.get("BENCH_LOANS", 1_000_000)))
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    opts = parser.parse_args()
    if opts.loans < 1:
        parser.error(f"--loans (BENCH_LOANS) must be at least 1, got {opts.loans}")
    shutil.rmtree(OUT, ignore_errors=True)
    data = OUT / "data"
    db = OUT / "arrears.db"
    env = {**os.environ, "ARREARS_DATABASE_URL": f"sqlite:///{db}", "ARREARS_PROGRESS": ""}
    steps: list[Step] = []

    gen = run(
        "generate",
        [
            "generate",
            "--loans",
            str(opts.loans),
            "--seed",
            "1",
            "--as-of",
            AS_OF,
            "--out",
            str(data),
            "--workers",
            str(opts.workers),
        ],
        env,
    )
    gen.rows, gen.what = opts.loans, "loans"
    steps.append(gen)

    # ingest in batches so the instalment rate is measured on its own
    parts = split(data)
    run("init", ["init"], env)
    ingested: list[Step] = []
    for key, folder in parts.items():
        step = run(f"ingest {key}", ["ingest", str(folder)], env)
        check_rows(step.name, folder, db)
        step.rows = sum(count_lines(p) for p in folder.iterdir())
        ingested.append(step)
    steps += ingested
    steps.append(
        Step(
            "ingest (all files)",
            sum(s.seconds for s in ingested),
            max(s.peak_mib for s in ingested),
            sum(s.rows for s in ingested),
        )
    )

    port = run("portfolio", ["portfolio", "--as-of", AS_OF, "--workers", str(opts.workers)], env)
    port.rows, port.what = opts.loans, "loans"
    steps.append(port)
    write_results(opts.loans, steps, db)


def write_results(loans: int, steps: list[Step], db: Path) -> None:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"## {now}: {loans:,} loans",
        "",
        f"Machine: {machine()}.",
        f"Store: SQLite (WAL), {db.stat().st_size / 1024 / 1024:,.0f} MiB after ingest and one "
        "snapshot. Command: `scripts/bench`"
        + ("" if loans == 1_000_000 else f" with `BENCH_LOANS={loans}`")
        + ".",
        "",
        "| step | rows | seconds | rows/s | peak memory (MiB) |",
        "|---|---:|---:|---:|---:|",
    ]
    for s in steps:
        lines.append(
            f"| {s.name} | {s.rows:,} {s.what} | {s.seconds:,.1f} | {s.rate:,.0f} | "
            f"{s.peak_mib:,.0f} |"
        )
    goal = next(s for s in steps if s.name == "ingest instalments")
    verdict = "met" if goal.rate >= 100_000 else "NOT met"
    lines += [
        "",
        f"Goal: ingest >= 100,000 instalment rows/s into SQLite: {verdict} "
        f"({goal.rate:,.0f} rows/s).",
        "",
        "",
    ]
    prepend(lines)


if __name__ == "__main__":
    sys.exit(guard(main))
