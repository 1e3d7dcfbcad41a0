"""Benchmarks for the foundation: generate, ingest and portfolio on a large store.

Each step runs the real ``arrears`` command in a child process; wall time comes from the clock
and peak memory from the child's resource usage (os.wait4). Results go to bench/RESULTS.md, the
newest run first, with the machine and the date.

    scripts/bench                      # 1,000,000 loans (about half an hour on 2 cores)
    BENCH_LOANS=100000 scripts/bench   # a quick run
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from common import machine, prepend

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
AS_OF = "2026-11-23"


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
    cmd = [str(ROOT / ".venv" / "bin" / "arrears"), *args]
    print(f"$ arrears {' '.join(args)}", flush=True)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{name} failed")
    return Step(name, seconds, usage.ru_maxrss / 1024)


def count_lines(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(1 for _ in fh) - 1


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--loans", type=int, default=int(os.environ.get("BENCH_LOANS", 1_000_000)))
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    opts = parser.parse_args()
    shutil.rmtree(OUT, ignore_errors=True)
    data = OUT / "data"
    parts = {k: OUT / k for k in ("accounts", "instalments", "payments")}
    db = OUT / "arrears.db"
    env = {**os.environ, "ARREARS_DATABASE_URL": f"sqlite:///{db}"}
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

    # ingest in three batches so the instalment rate is measured on its own
    for folder in parts.values():
        folder.mkdir(parents=True)
    for name in ("portfolios", "borrowers", "contact_points", "loans"):
        (parts["accounts"] / f"{name}.csv").symlink_to(data / f"{name}.csv")
    (parts["instalments"] / "instalments.csv").symlink_to(data / "instalments.csv")
    (parts["payments"] / "payments.csv").symlink_to(data / "payments.csv")
    run("init", ["init"], env)
    total_rows = 0
    for key, folder in parts.items():
        step = run(f"ingest {key}", ["ingest", str(folder)], env)
        step.rows = sum(count_lines(p) for p in folder.iterdir())
        total_rows += step.rows
        steps.append(step)
    ingest_all = Step(
        "ingest (all files)",
        sum(s.seconds for s in steps[1:]),
        max(s.peak_mib for s in steps[1:]),
        total_rows,
    )
    steps.append(ingest_all)

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
    sys.exit(main())
