"""Shared by the benchmarks: the machine's description, the results file, and running a step.

A step that fails fails the whole benchmark: :func:`run_step` raises :class:`StepFailed` (the
step, its command, its exit status and the tail of its stderr), :func:`guard` turns that into a
message and exit status 1, and nothing is written to the results file. Knobs:

* ``BENCH_RESULTS=path``: write the section there instead of bench/RESULTS.md (a scratch file
  for a tiny run, so bench/RESULTS.md only ever gets real runs);
* ``BENCH_OUT=dir``: the working files there instead of bench/out;
* ``BENCH_BREAK=step``: the named step fails on purpose (its command is replaced by one that
  exits 1), to check that a failure stops the benchmark and writes no figure.
"""

from __future__ import annotations

import os
import platform
import shlex
import sqlite3
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(os.environ.get("BENCH_RESULTS") or ROOT / "bench" / "RESULTS.md")
#: the benchmarks' working files (generated portfolios, stores, plans), each in a folder of its own
OUT_ROOT = Path(os.environ.get("BENCH_OUT") or ROOT / "bench" / "out")
HEAD = "# Benchmark results\n\nNewest first. Produced by `scripts/bench` (bench/*.py).\n\n"
TAIL_LINES = 30


class StepFailed(Exception):
    """A step of a benchmark failed: its name, the command, why, and the end of its stderr."""

    def __init__(self, step: str, command: str, why: str, stderr: str = "") -> None:
        super().__init__(step, command, why, stderr)
        self.step, self.command, self.why, self.stderr = step, command, why, stderr

    def __str__(self) -> str:
        text = f"benchmark step {self.step!r} failed: {self.why}\n  command: {self.command}"
        if self.stderr.strip():
            text += f"\n  stderr (last lines):\n{_indent(self.stderr)}"
        return text


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.rstrip().splitlines())


def tail(text: str, lines: int = TAIL_LINES) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def broken(step: str) -> bool:
    """Whether ``BENCH_BREAK`` names this step (it is then made to fail on purpose)."""
    return os.environ.get("BENCH_BREAK", "") == step


def breaker(step: str) -> list[str]:
    """A command that fails as a step would: a message on stderr, exit status 1."""
    code = f"import sys; sys.exit('{step}: broken on purpose (BENCH_BREAK)')"
    return [sys.executable, "-c", code]


def as_run(step: str, cmd: Sequence[str]) -> tuple[list[str], str]:
    """The command to run for ``step`` (a failing one if ``BENCH_BREAK`` names it), and the
    command as a failure names it (the real one)."""
    if broken(step):
        return breaker(step), f"{show(cmd)}  [replaced by a failing command: BENCH_BREAK]"
    return list(cmd), show(cmd)


def show(cmd: Sequence[str]) -> str:
    """A command as a shell would take it, the venv's and the repository's paths shortened."""
    return " ".join(
        shlex.quote(Path(c).name if c.startswith(str(ROOT / ".venv")) else c) for c in cmd
    )


def run_step(
    step: str, cmd: Sequence[str], env: dict[str, str] | None = None
) -> tuple[float, float]:
    """Run ``cmd`` as a child process; return its wall time (s) and peak memory (MiB, from
    os.wait4). Its stdout is dropped and its stderr kept aside (shown if it fails): a non-zero
    exit raises :class:`StepFailed`."""
    cmd, shown = as_run(step, cmd)
    print(f"$ {shown}", flush=True)
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = code = os.waitstatus_to_exitcode(status)
        if code != 0:
            err.seek(0)
            text = err.read().decode(errors="replace")
            why = f"killed by signal {-code}" if code < 0 else f"exit status {code}"
            raise StepFailed(step, shown, f"{why} after {seconds:,.1f} s", tail(text))
    peak = usage.ru_maxrss / 1024
    print(f"  {seconds:,.1f} s, peak {peak:,.0f} MiB", flush=True)
    return seconds, peak


def guard(main: Callable[[], object]) -> int:
    """Run a benchmark's ``main``: 0 if it finished (and wrote its section), else a message
    naming what failed on stderr and 1 (nothing written)."""
    try:
        main()
    except StepFailed as exc:
        print(f"\nBENCHMARK FAILED, nothing written to {RESULTS}:\n{exc}", file=sys.stderr)
        return 1
    except Exception:
        print(traceback.format_exc(), file=sys.stderr)
        print(f"BENCHMARK FAILED, nothing written to {RESULTS}", file=sys.stderr)
        return 1
    return 0


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
    """Put a run's section at the top of the results file (bench/RESULTS.md unless
    ``BENCH_RESULTS`` says otherwise), keeping the older ones."""
    old = RESULTS.read_text() if RESULTS.exists() else ""
    for head in (HEAD, HEAD.replace("bench/*.py", "bench/run.py")):
        if old.startswith(head):
            old = old[len(head) :]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(HEAD + "\n".join(lines) + old)
    print("\n".join(lines))
