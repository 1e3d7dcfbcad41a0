"""The daily cycle's benchmark: portfolios of 12 instalments a loan with a realistic DPD mix and
a 90-day contact history (bench/lake.py), then, each in a child process (wall time from the
clock, peak memory from os.wait4):

* the cycle on 1,000,000 loans in the SQLite store, end to end (``arrears cycle``: read, decide,
  write the plan back);
* the data-lake mode on 10,000,000 loans from Parquet (``arrears cycle --source --out``);
* the scalar reference on 100,000 loans, and the vectorised cycle on the same loans;
* the floor: DuckDB reading the same input columns once;
* Spark (local mode) on 1,000,000 loans.

    scripts/bench cycle                       # the full run (about an hour on 2 cores)
    BENCH_CYCLE_SCALE=0.01 scripts/bench cycle   # every size times 0.01, for a quick look

Other knobs: BENCH_CYCLE_REPEATS (runs of each step judged against a goal; 3), BENCH_CYCLE_SPARK=0
(Spark left out), and bench/common.py's (BENCH_RESULTS, BENCH_OUT, BENCH_BREAK). A step that
fails, writes no plan or quarantines an account (then not computed, so the run would look faster
than it is) stops the benchmark: exit status 1, nothing written.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from common import OUT_ROOT, StepFailed, guard, machine, prepend, run_step, show

ROOT = Path(__file__).resolve().parents[1]
OUT = OUT_ROOT / "cycle"
AS_OF = date(2026, 11, 23)
SCALE = float(os.environ.get("BENCH_CYCLE_SCALE", "1"))
STORE_LOANS = int(1_000_000 * SCALE)
LAKE_LOANS = int(10_000_000 * SCALE)
REF_LOANS = int(100_000 * SCALE)
SPARK_LOANS = int(1_000_000 * SCALE)
SPARK = os.environ.get("BENCH_CYCLE_SPARK", "1") != "0"
WARM_LOANS = 1_000
PY = str(ROOT / ".venv" / "bin" / "python")
ARREARS = str(ROOT / ".venv" / "bin" / "arrears")

#: the steps judged against a goal run this many times; the median is reported (this is a
#: shared VM: the same run varies by 10% or more from one minute to the next)
REPEATS = int(os.environ.get("BENCH_CYCLE_REPEATS", "3"))


@dataclass
class Step:
    name: str
    loans: int
    seconds: float
    peak_mib: float
    note: str = ""


def child(
    name: str,
    cmd: list[str],
    env: dict[str, str],
    loans: int,
    note: str = "",
    check: Callable[[], None] | None = None,
) -> Step:
    """One step in a child process; its failure, or ``check`` finding its output wrong, stops
    the benchmark (:class:`common.StepFailed`)."""
    seconds, peak = run_step(name, cmd, env)
    if check is not None:
        check()
    return Step(name, loans, seconds, peak, note)


def median_of(
    runs: int,
    name: str,
    cmd: list[str],
    env: dict[str, str],
    loans: int,
    note: str,
    before: Callable[[], None] | None = None,
    check: Callable[[], None] | None = None,
) -> Step:
    """:func:`child` ``runs`` times (``before`` each, untimed): the median time, the largest
    peak memory, and every time in the note."""
    steps = []
    for _ in range(max(1, runs)):
        if before is not None:
            before()
        steps.append(child(name, cmd, env, loans, note, check))
    if len(steps) == 1:
        return steps[0]
    times = sorted(s.seconds for s in steps)
    each = ", ".join(f"{s.seconds:,.1f}" for s in steps)
    return Step(
        name,
        loans,
        times[len(times) // 2],
        max(s.peak_mib for s in steps),
        f"{note}; median of {len(steps)} runs ({each} s)",
    )


def lake_step(
    name: str,
    source: Path,
    loans: int,
    note: str,
    env: dict[str, str],
    *,
    engine: str | None = None,
    runs: int = 1,
) -> Step:
    """``arrears cycle`` in the data-lake mode, its output folder emptied before each run and
    checked after it: a plan written, no account quarantined."""
    out = OUT / f"plan-{name}"
    cmd = [ARREARS, "cycle", "--as-of", AS_OF.isoformat(), "--source", str(source)]
    cmd += ["--out", str(out), *(["--engine", engine] if engine else [])]

    def check() -> None:
        plan, sick = out / "plan.parquet", out / "quarantined.parquet"
        if not plan.exists() or pq.read_metadata(plan).num_rows == 0:
            raise StepFailed(name, show(cmd), f"no plan in {plan} for {loans:,} loans")
        if sick.exists() and (n := pq.read_metadata(sick).num_rows):
            first = pq.read_table(sick).slice(0, 3).to_pylist()
            raise StepFailed(
                name,
                show(cmd),
                f"{n:,} of {loans:,} accounts quarantined (not computed), the first: {first}",
            )

    return median_of(
        runs, name, cmd, env, loans, note, lambda: shutil.rmtree(out, ignore_errors=True), check
    )


def store_check(name: str, db: Path, loans: int) -> Callable[[], None]:
    """The store run's check: one cycle run recorded, with accounts and actions, none quarantined."""

    def check() -> None:
        con = sqlite3.connect(db)
        try:
            rows = [json.loads(r[0]) for r in con.execute("SELECT counts FROM cycle_run")]
        finally:
            con.close()
        counts = rows[0] if len(rows) == 1 else {}
        if not counts.get("accounts") or counts.get("quarantined") or not counts.get("actions"):
            keys = ("accounts", "actions", "quarantined", "quarantined_accounts")
            seen = [{k: r.get(k) for k in keys} for r in rows]
            raise StepFailed(
                name,
                "arrears cycle",
                f"expected one run of {loans:,} loans with "
                f"accounts, actions and none quarantined in {db}, found {seen}",
            )

    return check


# ------------------------------------------------------------------------------------------
# the SQLite store: created by `arrears init` (the migrations), loaded from the lake (setup,
# not timed)

ISO = "%Y-%m-%d %H:%M:%S"  # Arrow prints the microseconds with %S


def _col(table: pa.Table, name: str) -> list[object]:
    col = table[name]
    if pa.types.is_date(col.type):
        return pc.strftime(col, "%Y-%m-%d").to_pylist()
    if pa.types.is_timestamp(col.type):
        return pc.strftime(col.cast(pa.timestamp("us", tz="UTC")), ISO).to_pylist()
    return col.to_pylist()


def _rows(table: pa.Table, names: list[str]) -> list[tuple[object, ...]]:
    return list(zip(*(_col(table, n) for n in names), strict=True))


def _insert(table: str, columns: list[str], constants: dict[str, str] | None = None) -> str:
    """An INSERT naming its columns: the lake's ``columns`` as parameters, then ``constants``
    (SQL literals) for the store's columns the lake does not have."""
    consts = constants or {}
    names = ", ".join([*columns, *consts])
    values = ", ".join(["?"] * len(columns) + list(consts.values()))
    return f"INSERT INTO {table} ({names}) VALUES ({values})"


PORTFOLIO = ("portfolio_id", "name", "creditor", "product", "currency", "rulebook", "strategy",
             "timezone", "penalty_daily_rate", "penalty_rate_multiplier", "penalty_base",
             "grace_days", "penalty_rate_cap_annual", "charges_cap_ratio", "allocation")  # fmt: skip
LOAN = ["loan_id", "portfolio_id", "borrower_id", "currency", "principal", "annual_rate", "method",
        "term_months", "first_due_date", "score"]  # fmt: skip
#: lake file -> (store table, the file's columns, constants for the store's other columns)
TABLES: tuple[tuple[str, str, list[str], dict[str, str]], ...] = (
    ("borrowers", "borrower",
     ["borrower_id", "locale", "timezone", "consents", "contact_window", "preferred_channel"], {}),
    ("points", "contact_point", ["contact_id", "borrower_id", "kind", "opt_outs"],
     {"owner_role": "'borrower'", "value_enc": "x'00'", "value_hash": "'-'", "is_valid": "1",
      "is_primary": "1"}),
    ("instalments", "instalment",
     ["loan_id", "seq", "due_date", "principal", "interest", "fee"], {}),
    ("payments", "payment", ["payment_id", "loan_id", "paid_on", "amount"],
     {"status": "'posted'"}),
    ("contacts", "contact_attempt",
     ["attempt_id", "borrower_id", "loan_id", "channel", "at", "direction", "role", "result"], {}),
    ("promises", "promise", ["promise_id", "loan_id", "status", "settled_on"],
     {"amount": "1000", "due_on": "'2026-11-01'", "made_at": "'2026-10-01 00:00:00.000000'"}),
    ("holds", "hold",
     ["hold_id", "borrower_id", "loan_id", "kind", "starts_at", "ends_at"], {}),
    ("arrangements", "arrangement", ["arrangement_id", "loan_id", "kind"],
     {"status": "'active'", "starts_on": "'2026-11-01'"}),
    ("stages", "account_stage", ["loan_id", "stage", "since"], {}),
)  # fmt: skip


def load_store(lake: Path, db: Path, env: dict[str, str]) -> None:
    """A store made by ``arrears init`` (every migration, so it follows the schema), then
    filled straight from the lake's files, every INSERT naming its columns."""
    run_step("init", [ARREARS, "init"], env)
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=OFF")
    con.execute("PRAGMA synchronous=OFF")
    for pid, product, grace in (("cash", "cash_loan", 0), ("instalment", "instalment", 3)):
        row = (
            pid,
            pid,
            "Demo Lender",
            product,
            "CNY",
            "cn",
            "default",
            "Asia/Shanghai",
            None,
            "1.5",
            "principal",
            grace,
            "0.24",
            "0.24",
            "components_first",
        )
        con.execute(_insert("portfolio", list(PORTFOLIO)), row)
    for batch in pq.ParquetFile(lake / "loans.parquet").iter_batches(500_000):
        t = pa.Table.from_batches([batch])
        t = t.set_column(
            t.schema.get_field_index("score"), "score", pc.cast(t["score"], pa.string())
        )
        con.executemany(_insert("loan", LOAN), _rows(t, LOAN))
    ids = pq.read_table(lake / "loans.parquet", columns=["loan_id"])["loan_id"].combine_chunks()
    for name, table, cols, consts in TABLES:
        done = 0
        for batch in pq.ParquetFile(lake / f"{name}.parquet").iter_batches(500_000):
            t = pa.Table.from_batches([batch])
            if "loan_idx" in t.column_names:
                t = t.append_column("loan_id", ids.take(t["loan_idx"]))
            key = cols[0]
            if key not in t.column_names:  # a synthetic id for tables keyed by one
                t = t.append_column(
                    key, pa.array([f"{name[:2]}{done + k}" for k in range(t.num_rows)])
                )
            con.executemany(_insert(table, cols, consts), _rows(t, cols))
            done += t.num_rows
        print(f"  store: {name} {done:,} rows", flush=True)
    con.commit()
    con.execute("PRAGMA journal_mode=WAL")
    con.close()


# ------------------------------------------------------------------------------------------


def floor(lake: Path) -> float:
    """DuckDB reading every input column the cycle reads, once (best of 2)."""
    import duckdb

    con = duckdb.connect()
    best = float("inf")
    for _ in range(2):
        start = time.perf_counter()
        for name in (
            "loans",
            "instalments",
            "payments",
            "borrowers",
            "points",
            "contacts",
            "promises",
            "holds",
            "arrangements",
            "stages",
        ):
            path = lake / f"{name}.parquet"
            cols = pq.read_schema(path).names
            exprs = ", ".join(f'bit_xor(hash("{c}"))' for c in cols)  # reads every value
            con.execute(f"SELECT {exprs} FROM read_parquet('{path}')").fetchall()
        best = min(best, time.perf_counter() - start)
    return best


class Lakes:
    """Synthetic snapshots, one per size, each made once in a child process (so this one stays
    small and the measured steps get the machine's memory)."""

    def __init__(self) -> None:
        self.made: dict[int, Path] = {}

    def __call__(self, n: int) -> Path:
        if n not in self.made:
            path = OUT / f"lake-{n}"
            shutil.rmtree(path, ignore_errors=True)
            cmd = [
                PY,
                str(ROOT / "bench" / "lake.py"),
                str(path),
                str(n),
                "--as-of",
                AS_OF.isoformat(),
            ]
            seconds, _ = run_step(f"lake of {n} loans", cmd)
            os.sync()  # the generator's writes reach the disk before anything is measured
            print(f"  lake of {n:,} loans made in {seconds:,.0f} s", flush=True)
            self.made[n] = path
        return self.made[n]


def store_step(lake: Path, env: dict[str, str]) -> Step:
    """The cycle on the SQLite store, end to end, each run from the store as loaded."""
    db = OUT / "cycle.db"
    for p in OUT.glob("cycle.db*"):
        p.unlink()
    env_store = env | {"ARREARS_DATABASE_URL": f"sqlite:///{db}"}
    print(f"loading {STORE_LOANS:,} loans into {db.name}", flush=True)
    load_store(lake, db, env_store)
    loaded = OUT / "cycle-loaded.db"
    shutil.copyfile(db, loaded)

    def fresh_store() -> None:  # each run starts from the store as loaded (no earlier run)
        for p in OUT.glob("cycle.db-*"):
            p.unlink()
        shutil.copyfile(loaded, db)
        os.sync()

    try:
        return median_of(
            REPEATS,
            "store",
            [ARREARS, "cycle", "--as-of", AS_OF.isoformat()],
            env_store,
            STORE_LOANS,
            "SQLite store, end to end: read, decide, write the plan",
            fresh_store,
            store_check("store", db, STORE_LOANS),
        )
    finally:
        loaded.unlink()


def main() -> None:
    sizes = {"store, lake-1m, spark": STORE_LOANS, "reference": REF_LOANS, "lake-10m": LAKE_LOANS}
    if min(sizes.values()) < 1:
        raise SystemExit(f"BENCH_CYCLE_SCALE={SCALE} leaves a step no loans: {sizes}")
    OUT.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["ARREARS_PROGRESS"] = ""
    started = datetime.now(UTC)
    steps: list[Step] = []
    lake = Lakes()

    # warm-up: numba keeps its compiled kernels on disk; a deployment compiles them once
    lake_step("warm-up", lake(WARM_LOANS), WARM_LOANS, "", env)
    steps.append(store_step(lake(STORE_LOANS), env))
    ref_lake = lake(REF_LOANS)
    steps.append(
        child(
            "reference",
            [PY, str(ROOT / "bench" / "cycle_ref.py"), str(ref_lake), AS_OF.isoformat()],
            env,
            REF_LOANS,
            "scalar reference (one account at a time), Parquet in",
        )
    )
    steps.append(
        lake_step(
            "vectorised-ref", ref_lake, REF_LOANS, "the vectorised cycle on the same loans", env
        )
    )
    floor_1m = floor(lake(STORE_LOANS))
    steps.append(
        lake_step("lake-1m", lake(STORE_LOANS), STORE_LOANS, "Parquet in, Parquet out, DuckDB", env)
    )
    if SPARK:
        steps.append(
            lake_step(
                "spark",
                lake(SPARK_LOANS),
                SPARK_LOANS,
                "Spark local[2], Parquet in and out",
                env,
                engine="spark",
            )
        )
    big = lake(LAKE_LOANS)
    floor_10m = floor(big)
    steps.append(
        lake_step("lake-10m", big, LAKE_LOANS, "Parquet in, Parquet out, DuckDB", env, runs=REPEATS)
    )
    write_results(started, steps, {"1m": floor_1m, "10m": floor_10m})


def write_results(started: datetime, steps: list[Step], floors: dict[str, float]) -> None:
    by = {s.name: s for s in steps}
    speedup = by["reference"].seconds / by["vectorised-ref"].seconds
    rate_ref = by["reference"].loans / by["reference"].seconds
    rate_store = by["store"].loans / by["store"].seconds
    rate_lake = by["lake-10m"].loans / by["lake-10m"].seconds
    knobs = [f"BENCH_CYCLE_SCALE={SCALE:g}"] if SCALE != 1 else []
    knobs += [f"BENCH_CYCLE_REPEATS={REPEATS}"] if REPEATS != 3 else []
    knobs += ["BENCH_CYCLE_SPARK=0"] if not SPARK else []
    lines = [
        f"## {started:%Y-%m-%d %H:%M} UTC: the daily cycle",
        "",
        f"Machine: {machine()}. Command: `scripts/bench cycle`"
        + (f" ({', '.join(knobs)})" if knobs else "")
        + ". Portfolios from bench/lake.py: 12 instalments a loan, 20% delinquent (1 to 7 "
        "instalments missed), a 90-day contact history (3.8 contacts a loan); default strategy, "
        "cn rulebook. Each step is a child process, imports and all; the numba kernels were "
        "compiled once before (a warm-up run, as a deployment does).",
        "",
        "| step | loans | seconds | loans/s | peak memory (MiB) | what |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for s in steps:
        lines.append(
            f"| {s.name} | {s.loans:,} | {s.seconds:,.1f} | {s.loans / s.seconds:,.0f} | "
            f"{s.peak_mib:,.0f} | {s.note} |"
        )
    goals = [
        (
            "1M loans from SQLite, end to end",
            by["store"].seconds <= 30 and by["store"].peak_mib <= 4096,
            f"{by['store'].seconds:,.1f} s, {by['store'].peak_mib:,.0f} MiB (goal <= 30 s, <= 4 GiB)",
        ),
        (
            "10M loans from Parquet",
            by["lake-10m"].seconds <= 60 and by["lake-10m"].peak_mib <= 16384,
            f"{by['lake-10m'].seconds:,.1f} s, {by['lake-10m'].peak_mib:,.0f} MiB (goal <= 60 s, <= 16 GiB)",
        ),
        (
            "speed-up over the scalar reference, per loan (loans/s of the vectorised cycle at "
            "portfolio scale, 10M from Parquet, over the reference's on 100k)",
            rate_lake / rate_ref >= 50,
            f"{rate_lake / rate_ref:,.0f}x (goal >= 50x); 1M from SQLite: "
            f"{rate_store / rate_ref:,.0f}x; the same 100k loans, each a whole process: "
            f"{speedup:,.1f}x (the vectorised run is mostly its fixed cost: start-up, "
            "compiling the plan's SQL)",
        ),
    ]
    lines += ["", "| goal | result | met |", "|---|---|---|"]
    judged = SCALE == 1  # the goals are for the full sizes; a scaled run only shows the shape
    lines += [
        f"| {g} | {r} | {('met' if ok else 'NOT met') if judged else 'not judged (scaled run)'} |"
        for g, ok, r in goals
    ]
    lines += [
        "",
        f"Floor (DuckDB reading every input column once, best of 2): 1M loans {floors['1m']:,.2f} s "
        f"(lake-1m / floor = {by['lake-1m'].seconds / floors['1m']:,.1f}); 10M loans "
        f"{floors['10m']:,.2f} s (lake-10m / floor = {by['lake-10m'].seconds / floors['10m']:,.1f}).",
        "",
    ]
    prepend(lines)
    (OUT / "steps.json").write_text(json.dumps([s.__dict__ for s in steps], indent=2))


if __name__ == "__main__":
    sys.exit(guard(main))
