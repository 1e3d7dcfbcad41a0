"""Shared by the benchmarks: the machine's description and the results file."""

from __future__ import annotations

import os
import platform
import sqlite3
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
HEAD = "# Benchmark results\n\nNewest first. Produced by `scripts/bench` (bench/*.py).\n\n"


def machine() -> str:
    cpu = "unknown cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{mem_kib / 1024 / 1024:.0f} GiB"
    except OSError:
        mem = "unknown memory"
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores ({cpu}), {mem}; "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}"
    )


def prepend(lines: list[str]) -> None:
    """Put a run's section at the top of bench/RESULTS.md, keeping the older ones."""
    old = RESULTS.read_text() if RESULTS.exists() else ""
    for head in (HEAD, HEAD.replace("bench/*.py", "bench/run.py")):
        if old.startswith(head):
            old = old[len(head) :]
    RESULTS.write_text(HEAD + "\n".join(lines) + old)
    print("\n".join(lines))
