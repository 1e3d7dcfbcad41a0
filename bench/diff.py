"""The strategy dry run's benchmark: a candidate strategy's account-level diff against the
active one, on the same SQLite store the cycle's benchmark loads (bench/lake.py's portfolios),
on 20,000 loans (the demo's size) and on 1,000,000.

For each size, three measures, each in a child process:

* ``served``: as the console does it. The process is warmed as ``arrears serve`` warms it (the
  kernels loaded, the active strategy's queries compiled) and the candidate is compiled as its
  upload does; then the manager's dry run is timed: the day's snapshot read, both plans made,
  every changed account listed. The goal (issue 19): <= 3 s on 20,000 loans.
* ``again``: the same dry run a second time in that process (paging re-reads the kept result;
  this is a new diff, planned again).
* ``cli``: ``arrears plan diff candidate.yaml``, a whole process, imports and compiling and all.

    scripts/bench diff                          # 20,000 and 1,000,000 loans
    BENCH_DIFF_SIZES=2000 scripts/bench diff    # other sizes, comma-separated

A step that fails, or a diff that finds no changed account (the candidate moves the
day-before reminder to two days before, so some accounts must change), stops the benchmark:
exit status 1, nothing written.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from common import OUT_ROOT, StepFailed, guard, machine, prepend, run_step, show
from cycle import AS_OF, Lakes, load_store

ROOT = Path(__file__).resolve().parents[1]
OUT = OUT_ROOT / "diff"
SIZES = [int(n) for n in os.environ.get("BENCH_DIFF_SIZES", "20000,1000000").split(",")]
PY = str(ROOT / ".venv" / "bin" / "python")
ARREARS = str(ROOT / ".venv" / "bin" / "arrears")
GOAL_SECONDS = 3.0
GOAL_LOANS = 20_000


def candidate() -> str:
    """The default strategy with its day-before reminder moved to two days before."""
    text = (resources.files("arrears.strategy") / "strategies" / "default.yaml").read_text()
    changed = text.replace("{on_day: -1, channel: sms,", "{on_day: -2, channel: sms,")
    if changed == text:
        raise StepFailed("candidate", "default.yaml", "the day-before reminder was not found")
    return changed.replace('version: "2026.11"', 'version: "bench"')


CHILD = r"""
import json, sys, time
from datetime import date, datetime, time as clock_time
from zoneinfo import ZoneInfo
from arrears.bootstrap import bootstrap, offset_clock
from arrears.cycle.run import precompile
from arrears.service.daily.plans import diff_plans, rulebooks_in_use, warm_up
from arrears.strategy.model import load

day = date.fromisoformat(sys.argv[2])
app = bootstrap(clock=offset_clock(datetime.combine(day, clock_time(10), ZoneInfo("Asia/Shanghai"))))
start = time.perf_counter()
warm_up(app)
warmed = time.perf_counter() - start
cand = load(sys.argv[1])
start = time.perf_counter()
precompile(cand, day, rulebooks_in_use(app))
uploaded = time.perf_counter() - start
out = {"warm": warmed, "upload": uploaded}
for name in ("served", "again"):
    start = time.perf_counter()
    d = diff_plans(app, day, candidate=cand)
    out[name] = time.perf_counter() - start
    out["accounts"] = len(d.accounts)
    out["kinds"] = sorted({a.kind for a in d.accounts})
print(json.dumps(out))
"""


def measure(loans: int, lake: Path, cand: Path, env: dict[str, str]) -> dict[str, float]:
    db = OUT / f"store-{loans}.db"
    for p in OUT.glob(f"store-{loans}.db*"):
        p.unlink()
    env_store = env | {"ARREARS_DATABASE_URL": f"sqlite:///{db}"}
    print(f"loading {loans:,} loans into {db.name}", flush=True)
    load_store(lake, db, env_store)
    result = OUT / f"served-{loans}.json"
    script = OUT / "child.py"
    script.write_text(CHILD + f"\nopen({str(result)!r}, 'w').write(json.dumps(out))\n")
    seconds, peak = run_step(
        f"served {loans}", [PY, str(script), str(cand), AS_OF.isoformat()], env_store
    )
    got = json.loads(result.read_text())
    if got["accounts"] <= 0 or not {"added", "removed"} <= set(got["kinds"]):
        raise StepFailed(
            f"served {loans}", show([PY, str(script)]), f"the dry run found {got}, not changes"
        )
    cli, cli_peak = run_step(
        f"cli {loans}",
        [ARREARS, "plan", "diff", str(cand), "--as-of", AS_OF.isoformat()],
        env_store,
    )
    for p in OUT.glob(f"store-{loans}.db*"):
        p.unlink()
    return got | {"process": seconds, "peak": peak, "cli": cli, "cli_peak": cli_peak}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["ARREARS_PROGRESS"] = ""
    env.pop("ARREARS_STRATEGY", None)
    started = datetime.now(UTC)
    cand = OUT / "candidate.yaml"
    cand.write_text(candidate(), encoding="utf-8")
    lakes = Lakes()
    results = {n: measure(n, lakes(n), cand, env) for n in SIZES}
    write(started, results)
    shutil.rmtree(OUT / "lakes", ignore_errors=True)


def write(started: datetime, results: dict[int, dict[str, float]]) -> None:
    sizes = os.environ.get("BENCH_DIFF_SIZES")
    lines = [
        f"## {started:%Y-%m-%d %H:%M} UTC: the strategy dry run (account-level diff)",
        "",
        f"Machine: {machine()}. Command: `scripts/bench diff`"
        + (f" (BENCH_DIFF_SIZES={sizes})" if sizes else "")
        + ". The SQLite store of bench/cycle.py's portfolios; the candidate is the default "
        "strategy with its day-before SMS moved to two days before. *served*: the console's dry "
        "run in a process warmed as `arrears serve` warms it and the candidate compiled as its "
        "upload does; *again*: the same dry run repeated; *cli*: `arrears plan diff`, a whole "
        "process.",
        "",
        "| loans | served (s) | again (s) | cli (s) | warm-up at start (s) | compile at upload (s) "
        "| accounts changed | peak memory (MiB) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n, r in results.items():
        lines.append(
            f"| {n:,} | {r['served']:.2f} | {r['again']:.2f} | {r['cli']:.1f} | {r['warm']:.1f} "
            f"| {r['upload']:.1f} | {int(r['accounts']):,} | {max(r['peak'], r['cli_peak']):,.0f} |"
        )
    if GOAL_LOANS in results:
        s = results[GOAL_LOANS]["served"]
        verdict = "met" if s <= GOAL_SECONDS else "NOT met"
        lines += ["", f"Goal: the dry run on {GOAL_LOANS:,} loans <= {GOAL_SECONDS:g} s: "
                  f"{verdict} ({s:.2f} s)."]  # fmt: skip
    else:
        lines += ["", f"Goal (dry run on {GOAL_LOANS:,} loans <= {GOAL_SECONDS:g} s): not judged "
                  "(other sizes)."]  # fmt: skip
    lines += ["", ""]
    prepend(lines)


if __name__ == "__main__":
    sys.exit(guard(main))
