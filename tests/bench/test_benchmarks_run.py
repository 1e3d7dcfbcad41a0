"""Every benchmark of ``scripts/bench``, run at a tiny size, so none can break unnoticed.

Each runs bench/<name>.py as ``scripts/bench`` does (without its set-up step), with its section
written to a scratch results file (``BENCH_RESULTS``) and its working files under the test's
folder (``BENCH_OUT``): it must exit 0 and write one section whose table has a figure for every
step. Then each is run with one step broken on purpose (``BENCH_BREAK``, or a bogus name): it
must exit non-zero, say which step failed with its command and stderr, and write nothing.
bench/RESULTS.md itself is never touched.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYTHON = ROOT / ".venv" / "bin" / "python"
RESULTS_MD = ROOT / "bench" / "RESULTS.md"
HEAD = "# Benchmark results\n\nNewest first. Produced by `scripts/bench` (bench/*.py).\n\n"
#: scripts/bench's names -> the file each runs, and the tiny size of each
BENCHES = {
    "store": "run",
    "gate": "gate",
    "cycle": "cycle",
    "dispatch": "dispatch",
    "api": "api",
    "screen": "screen",
    "diff": "diff",
    "learn": "learn",
}
TINY = {
    "store": {"BENCH_LOANS": "200"},
    "gate": {"BENCH_GATE_DECISIONS": "300"},
    "cycle": {"BENCH_CYCLE_SCALE": "0.0001", "BENCH_CYCLE_REPEATS": "1"},
    "diff": {"BENCH_DIFF_SIZES": "600"},
    "learn": {
        "BENCH_LEARN_BOOK": "3000",
        "BENCH_LEARN_ACCOUNTS": "3000",
        "BENCH_LEARN_DECISIONS": "5000",
        "BENCH_LEARN_WORLDS": "1",
        "BENCH_LEARN_TRAIN_WORLDS": "2",
        "BENCH_LEARN_DAYS": "4",
        "BENCH_LEARN_LOANS": "600",
    },
    "dispatch": {"BENCH_DISPATCH_LOANS": "300"},
    "screen": {
        "BENCH_SCREEN_FOLDS": "2",
        "BENCH_SCREEN_DRAWS": "20",
        "BENCH_SCREEN_FAMILIES": "4",
        "BENCH_SCREEN_MESSAGES": "100",
    },
    "api": {
        "BENCH_API_LOANS": "2000",
        "BENCH_API_COLLECTORS": "4",
        "BENCH_API_ROUNDS": "2",
        "BENCH_API_THINK": "0.05",
    },
}


@pytest.fixture(autouse=True)
def results_md_untouched() -> Iterator[None]:
    before = RESULTS_MD.read_bytes() if RESULTS_MD.exists() else None
    yield
    after = RESULTS_MD.read_bytes() if RESULTS_MD.exists() else None
    assert after == before, "a tiny benchmark run wrote to bench/RESULTS.md"


def bench(name: str, tmp: Path, **knobs: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    """Run one benchmark at its tiny size (``knobs`` on top); its result and results file."""
    results = tmp / "RESULTS.md"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BENCH_")}
    env |= {"BENCH_RESULTS": str(results), "BENCH_OUT": str(tmp / "out"), **TINY[name], **knobs}
    cmd = [str(PYTHON), str(ROOT / "bench" / f"{BENCHES[name]}.py")]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, cwd=ROOT)
    return proc, results


def section(proc: subprocess.CompletedProcess[str], results: Path) -> str:
    """The one section the run wrote (after the file's head), checked for what a failure
    leaves behind."""
    assert proc.returncode == 0, (
        f"exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    )
    text = results.read_text()
    assert text.startswith(HEAD)
    body = text[len(HEAD) :]
    assert len(re.findall(r"^## ", body, re.M)) == 1, body
    assert "FAILED" not in body and not re.search(r"\b(nan|inf)\b", body, re.I)
    return body


def rows(body: str) -> dict[str, list[str]]:
    """The section's table rows by their first cell(s): ``{"cn": [...], ...}``; for the api's
    two-key rows, ``{"paced queue": [...]}``."""
    out = {}
    for line in body.splitlines():
        if line.startswith("| ") and not line.startswith("|---"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            out[cells[0]] = cells[1:]
    return out


def number(cell: str) -> float:
    """The figure a cell starts with ("1,234 rows" -> 1234.0)."""
    found = re.match(r"-?[\d,]+(\.\d+)?", cell)
    assert found, f"no figure in {cell!r}"
    return float(found.group(0).replace(",", ""))


def failed(proc: subprocess.CompletedProcess[str], results: Path, step: str, *why: str) -> None:
    """The run failed at ``step``, said so with its command and why (the stderr's last lines),
    and wrote no figure."""
    assert proc.returncode != 0, proc.stdout[-3000:]
    message = proc.stderr[proc.stderr.rfind("BENCHMARK FAILED") :]
    assert f"nothing written to {results}:\nbenchmark step '{step}' failed" in message, message
    assert "\n  command: " in message
    for w in why:
        assert w in message, message
    assert not results.exists(), results.read_text()
    assert "## " not in proc.stdout and "|---" not in proc.stdout


def test_every_benchmark_of_scripts_bench_is_run_here() -> None:
    script = (ROOT / "scripts" / "bench").read_text()
    names = set(re.findall(r"^\s+(\w+)\)", script, re.M))
    files = set(re.findall(r"bench/(\w+)\.py", script))
    assert names == set(BENCHES)
    assert files == set(BENCHES.values())


# ------------------------------------------------------------------------------------------
# store: generate, ingest, portfolio


def test_store(tmp_path: Path) -> None:
    body = section(*bench("store", tmp_path))
    table = rows(body)
    for step in (
        "generate",
        "ingest accounts",
        "ingest instalments",
        "ingest payments",
        "ingest history",
        "ingest (all files)",
        "portfolio",
    ):
        rows_, seconds, rate, peak = table[step]
        assert number(rows_) > 0 and number(seconds) > 0 and number(rate) > 0
        assert number(peak) > 0
    assert number(table["generate"][0]) == 200
    assert re.search(
        r"Goal: ingest >= 100,000 instalment rows/s into SQLite: (met|NOT met) "
        r"\([\d,]+ rows/s\)",
        body,
    )


def test_store_step_failing_fails_the_benchmark(tmp_path: Path) -> None:
    proc, results = bench("store", tmp_path, BENCH_BREAK="ingest instalments")
    failed(proc, results, "ingest instalments", "arrears ingest", "broken on purpose")
    assert "$ arrears ingest" in proc.stdout  # the steps before it ran


# ------------------------------------------------------------------------------------------
# gate


def test_gate(tmp_path: Path) -> None:
    body = section(*bench("gate", tmp_path))
    table = rows(body)
    for book in ("cn", "us-regf"):
        rate, p50, p99, goal = table[book]
        assert number(rate) > 0 and 0 < number(p50) <= number(p99)
        assert goal in ("met", "NOT met")


def test_gate_unknown_rulebook_fails_the_benchmark(tmp_path: Path) -> None:
    proc, results = bench("gate", tmp_path, BENCH_GATE_RULEBOOKS="cn,bogus")
    # cn was measured first: still nothing is written
    failed(proc, results, "rulebook bogus", "RulebookError: unknown rulebook 'bogus'")


# ------------------------------------------------------------------------------------------
# cycle (Spark once, in the full tiny run)

CYCLE_STEPS = ("store", "reference", "vectorised-ref", "lake-1m", "spark", "lake-10m")


@pytest.mark.spark
def test_cycle(tmp_path: Path) -> None:
    # the data-lake mode needs no store: one named here must stay untouched
    untouched = tmp_path / "no-store" / "arrears.db"
    # the JVM's quick compiler only: a tiny Spark job starts in two thirds of the time
    java = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
    body = section(
        *bench(
            "cycle", tmp_path, ARREARS_DATABASE_URL=f"sqlite:///{untouched}", JAVA_TOOL_OPTIONS=java
        )
    )
    assert not untouched.exists()
    table = rows(body)
    for step in CYCLE_STEPS:
        loans, seconds, rate, peak, _what = table[step]
        assert number(loans) > 0 and number(seconds) > 0 and number(rate) > 0
        assert number(peak) > 0
    assert number(table["lake-10m"][0]) == 1_000 and number(table["reference"][0]) == 10
    assert re.search(r"\| [\d,.]+x \(goal >= 50x\)", body)
    assert body.count("not judged (scaled run)") == 3
    assert re.search(r"1M loans [\d.]+ s \(lake-1m / floor = [\d,.]+\)", body)
    plans = sorted(p.name for p in (tmp_path / "out" / "cycle").glob("plan-*"))
    assert plans == [f"plan-{s}" for s in sorted(["warm-up", *CYCLE_STEPS[2:]])]


def test_cycle_step_failing_fails_the_benchmark(tmp_path: Path) -> None:
    # the reference once failed after 5 s and became a "283x" speed-up
    proc, results = bench("cycle", tmp_path, BENCH_BREAK="reference", BENCH_CYCLE_SPARK="0")
    failed(proc, results, "reference", "cycle_ref.py", "broken on purpose", "exit status 1")
    assert "$ arrears cycle --as-of 2026-11-23\n" in proc.stdout  # the store's step ran
    assert not (tmp_path / "out" / "cycle" / "steps.json").exists()


# ------------------------------------------------------------------------------------------
# diff: the strategy dry run


def test_diff(tmp_path: Path) -> None:
    body = section(*bench("diff", tmp_path))
    (row,) = [cells for first, cells in rows(body).items() if first == "600"]
    served, again, cli, warm, upload, changed, peak = (number(c) for c in row)
    assert 0 < served and 0 < again and 0 < cli and 0 < warm and 0 < upload
    assert changed > 0 and peak > 0
    assert "not judged (other sizes)" in body


def test_diff_step_failing_fails_the_benchmark(tmp_path: Path) -> None:
    proc, results = bench("diff", tmp_path, BENCH_BREAK="cli 600")
    failed(proc, results, "cli 600", "arrears plan diff", "broken on purpose")
    assert "$ python " in proc.stdout  # the served step ran before


def test_learn(tmp_path: Path) -> None:
    body = section(*bench("learn", tmp_path))
    table = rows(body)
    scoring = next(v for k, v in table.items() if k.startswith("scoring in the cycle of 3,000"))
    assert number(scoring[0]) > 0
    assert number(table["the same cycle's plan, all of it"][0]) > number(scoring[0])
    assert number(table["scoring 3,000 accounts that all choose today (scores and draws)"][0]) > 0
    assert number(table["training on 5,000 decisions"][0]) > 0
    recovery = next(k for k in table if k.endswith("of accounts entering collection, relative"))
    for goal in (recovery, "contacts per account", "rule breaks",
                 "worlds where it beats the champion"):  # fmt: skip
        measured, met = table[goal][1], table[goal][2]
        number(measured.lstrip("+"))
        assert met in ("met", "NOT met")
    assert table["rule breaks"][1:] == ["0", "met"]


def test_learn_step_failing_fails_the_benchmark(tmp_path: Path) -> None:
    # the second step breaks (the first has run), so the figures the first made are not written
    proc, results = bench("learn", tmp_path, BENCH_BREAK="training")
    failed(proc, results, "training", "child.py", "broken on purpose")
    assert "scoring" in proc.stdout  # the scoring ran before
    assert "learn train" not in proc.stdout  # and nothing after


# ------------------------------------------------------------------------------------------
# dispatch and api: each starts its own PostgreSQL server


@pytest.mark.postgres
def test_dispatch(tmp_path: Path) -> None:
    body = section(*bench("dispatch", tmp_path))
    table = rows(body)
    for run in ("sms-1", "sms-2", "email-1", "email-2"):
        processes, sent, seconds, rate, _why = table[run]
        assert number(processes) == int(run[-1])
        assert number(sent) > 0 and number(seconds) > 0 and number(rate) > 0
    assert number(table["sms-1"][1]) == number(table["sms-2"][1])
    assert table["zero duplicates"][-1] == "met"


@pytest.mark.postgres
def test_dispatcher_failing_fails_the_benchmark(tmp_path: Path) -> None:
    proc, results = bench("dispatch", tmp_path, BENCH_BREAK="sms-2")
    failed(proc, results, "sms-2", "broken on purpose", "dispatch(channels=(sms,))")
    assert '"label": "sms-1"' in proc.stdout  # the run before it went through


@pytest.mark.postgres
def test_api(tmp_path: Path) -> None:
    body = section(*bench("api", tmp_path))
    lines = [line for line in body.splitlines() if line.startswith(("| paced", "| flat out"))]
    assert len(lines) == 8, body
    for line in lines:
        _run, endpoint, requests, per_s, p50, p99, top, refused = (
            c.strip() for c in line.strip().strip("|").split("|")
        )
        assert endpoint in ("queue", "account (API)", "account (page)", "wrap-up")
        assert number(requests) > 0 and number(per_s) > 0
        assert 0 < number(p50) <= number(p99) <= number(top)
        assert number(refused) == 0


@pytest.mark.postgres
def test_api_server_failing_fails_the_benchmark(tmp_path: Path) -> None:
    proc, results = bench("api", tmp_path, BENCH_BREAK="serve", BENCH_API_LOANS="200")
    failed(proc, results, "serve", "arrears serve --port", "broken on purpose", "exit status 1")


# ------------------------------------------------------------------------------------------
# screen

SHARE = re.compile(r"^(\d\.\d{3}) \[(\d\.\d{3}), (\d\.\d{3})\] \(n=(\d+)\)")


def test_screen(tmp_path: Path) -> None:
    body = section(*bench("screen", tmp_path))
    cells = [
        [c.strip() for c in line.strip().strip("|").split("|")]
        for line in body.splitlines()
        if line.startswith("| ") and not line.startswith("| set ")
    ]
    sets = {c[0] for c in cells if not c[0].startswith("speed")}
    assert {"corpus (grouped cv)", "held-out A", "held-out B"} <= sets, sets
    for name in sets:
        mine = {c[1]: c[2] for c in cells if c[0] == name}
        assert len(mine) == 11, mine  # precision, recall, eight categories, all goals
        for measure, value in mine.items():
            if measure == "all goals":
                assert value in ("met", "NOT met")
                continue
            share = SHARE.match(value)
            assert share, (name, measure, value)
            v, low, high, n = (float(x) for x in share.groups())
            assert 0 <= low <= v <= high <= 1 and n > 0, (name, measure, value)
    for label in ("speed", "speed, lawful texts only (most traffic)", "speed, lawful texts only"):
        speed = {c[1]: c[2] for c in cells if c[0] == label}
        assert speed and all(number(v) > 0 for v in speed.values()), (label, speed)


def test_screen_step_failing_fails_the_benchmark(tmp_path: Path) -> None:
    proc, results = bench("screen", tmp_path, BENCH_BREAK="held-out A")
    failed(proc, results, "held-out A", "broken on purpose")
