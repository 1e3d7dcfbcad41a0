"""The ``arrears`` command as a user runs it: a real process, real files, a real SQLite store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "examples" / "loan.json"


def run(
    *args: str, env: dict[str, str] | None = None, ok: bool = True
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "ARREARS_ENV": "test", "COLUMNS": "120", **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "arrears", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=300,
        check=False,
    )
    if ok:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_statement_of_the_readme_loan() -> None:
    out = json.loads(run("statement", "--loan", str(EXAMPLE), "--as-of", "2026-02-19").stdout)
    assert out["dpd"] == 35
    assert out["penalty_accrued"] == 2695
    assert out["instalments"][0]["amount"] == 110016
    assert (out["bucket"], out["stage"]) == ("M2", "late")


def test_a_bad_loan_file_names_the_field(tmp_path: Path) -> None:
    data = json.loads(EXAMPLE.read_text())
    data["policy"]["penalty_base"] = "everything"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    proc = run("statement", "--loan", str(bad), "--as-of", "2026-02-19", ok=False)
    assert proc.returncode == 1
    assert "policy.penalty_base" in proc.stderr and "bad.json" in proc.stderr


def test_generate_ingest_portfolio_and_statement_from_the_store(tmp_path: Path) -> None:
    env = {"ARREARS_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}"}
    run("init", env=env)
    run(
        "generate",
        "--loans",
        "200",
        "--seed",
        "9",
        "--as-of",
        "2026-11-23",
        "--out",
        str(tmp_path / "data"),
        env=env,
    )
    ingested = run("ingest", str(tmp_path / "data"), env=env)
    assert "instalments" in ingested.stdout
    report = json.loads(run("portfolio", "--as-of", "2026-11-23", "--json", env=env).stdout)
    assert report["loans"] == 200
    assert sum(b["loans"] for b in report["by_bucket"]) == 200
    table = run("portfolio", "--as-of", "2026-11-23", env=env).stdout
    assert "M7+" in table and "legal" in table
    st = json.loads(
        run("statement", "--loan-id", "LN0000000001", "--as-of", "2026-11-23", env=env).stdout
    )
    assert st["loan_id"] == "LN0000000001"


def test_ingest_rejects_a_bad_file_with_file_row_and_column(tmp_path: Path) -> None:
    env = {"ARREARS_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}"}
    run("init", env=env)
    data = tmp_path / "in"
    data.mkdir()
    (data / "borrowers.csv").write_text(
        "borrower_id,name,timezone\nB1,Li Lei,Asia/Shanghai\nB2,Han Meimei,Mars/Olympus\n"
    )
    errors = tmp_path / "errors.csv"
    proc = run("ingest", str(data), "--errors", str(errors), env=env, ok=False)
    assert proc.returncode == 2
    assert "borrowers.csv, row 2, column timezone" in proc.stderr
    assert "nothing was written" in proc.stderr
    lines = errors.read_text().splitlines()
    assert lines[0] == "file,row,column,reason,value"
    assert lines[1].startswith("borrowers.csv,2,timezone,")


def test_commands_refuse_a_store_that_was_not_initialised(tmp_path: Path) -> None:
    env = {"ARREARS_DATABASE_URL": f"sqlite:///{tmp_path / 'none.db'}"}
    proc = run("portfolio", "--as-of", "2026-11-23", env=env, ok=False)
    assert proc.returncode == 1 and "arrears init" in proc.stderr


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_parquet_and_json_lines_load_like_csv(tmp_path: Path, fmt: str) -> None:
    results = []
    for kind in ("csv", fmt):
        env = {"ARREARS_DATABASE_URL": f"sqlite:///{tmp_path / kind / 'store.db'}"}
        run("init", env=env)
        run(
            "generate",
            "--loans",
            "60",
            "--seed",
            "4",
            "--as-of",
            "2026-11-23",
            "--format",
            kind,
            "--out",
            str(tmp_path / kind / "data"),
            env=env,
        )
        run("ingest", str(tmp_path / kind / "data"), env=env)
        results.append(run("portfolio", "--as-of", "2026-11-23", "--json", env=env).stdout)
    assert results[0] == results[1]


def test_check_reads_a_request_and_prints_a_decision(tmp_path: Path) -> None:
    request = {
        "attempt": {
            "channel": "call",
            "at": "2026-11-23T22:00:00+08:00",
            "person_id": "B1",
            "debt_ids": ["L1"],
            "role": "debtor",
            "destination": "13800000001",
        },
        "person": {"timezones": ["Asia/Shanghai"], "inconvenient_times": [], "agreed_window": None},
        "history": [],
    }
    path = tmp_path / "req.json"
    path.write_text(json.dumps(request))
    out = json.loads(run("check", "--rulebook", "cn", "--request", str(path)).stdout)
    assert out["allowed"] is False
    assert out["violations"][0]["rule"] == "cn.hours.window"
    assert out["earliest_allowed_at"] == "2026-11-24T08:00:00+08:00"
    request["attempt"]["at"] = "2026-11-23T21:59:00+08:00"
    proc = subprocess.run(
        [sys.executable, "-m", "arrears", "check", "--rulebook", "us-regf", "--locale", "zh-CN"],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    zh = json.loads(proc.stdout)
    assert zh["allowed"] is False and "联系时段" in zh["violations"][0]["reason"]


def test_check_names_the_bad_field(tmp_path: Path) -> None:
    path = tmp_path / "req.json"
    path.write_text(json.dumps({"attempt": {"channel": "fax", "at": "x", "person_id": "B1"}}))
    proc = run("check", "--request", str(path), ok=False)
    assert proc.returncode == 1 and "attempt.channel" in proc.stderr


def test_recorded_decisions_verify_and_tampering_is_named(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "store.db"
    env = {"ARREARS_DATABASE_URL": f"sqlite:///{db}"}
    run("init", env=env)
    request = {
        "attempt": {
            "channel": "sms",
            "at": "2026-11-23T10:00:00+08:00",
            "person_id": "B1",
            "debt_ids": ["L1"],
            "content": "示例金融 工号A1",
        },
        "person": {"timezones": ["Asia/Shanghai"]},
        "history": [],
    }
    path = tmp_path / "req.json"
    path.write_text(json.dumps(request))
    for _ in range(3):
        run("check", "--request", str(path), "--record", env=env)
    assert "3 entries verified" in run("audit", "verify", env=env).stdout
    with sqlite3.connect(db) as conn:
        conn.execute(
            "UPDATE audit_log SET payload = replace(payload, 'true', 'false') WHERE seq = 2"
        )
    proc = run("audit", "verify", env=env, ok=False)
    assert proc.returncode == 3 and "entry 2" in proc.stderr


def test_lint_flags_evasive_threats_and_passes_clean_text() -> None:
    bad = subprocess.run(
        [sys.executable, "-m", "arrears", "lint"],
        input="再不還錢就弄 死 你",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert bad.returncode == 4 and json.loads(bad.stdout)["hits"][0]["category"] == "threat"
    ok = subprocess.run(
        [sys.executable, "-m", "arrears", "lint"],
        input="您好，请于今日还款",
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert json.loads(ok.stdout)["clean"] is True


def test_the_daily_cycle_from_the_command_line(tmp_path: Path) -> None:
    env = {"ARREARS_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}"}
    run("init", env=env)
    gen = tmp_path / "gen"
    run(
        "generate",
        "--loans",
        "400",
        "--seed",
        "5",
        "--out",
        str(gen),
        "--as-of",
        "2026-11-23",
        env=env,
    )
    assert (gen / "contacts.csv").exists() and (gen / "promises.csv").exists()
    run("ingest", str(gen), env=env)
    dry = run("cycle", "--as-of", "2026-11-23", "--dry-run", env=env)
    assert "dry run: nothing written" in dry.stdout
    assert "no model is loaded" not in dry.stderr  # the default strategy makes no choices
    learned = run("cycle", "--as-of", "2026-11-23", "--dry-run", "--strategy", "learned", env=env)
    assert "no model is loaded" in learned.stderr and "dry run: nothing written" in learned.stdout
    first = json.loads(run("cycle", "--as-of", "2026-11-23", "--json", env=env).stdout)
    [day] = first
    assert day["run_id"] == 1 and day["counts"]["actions"] > 0
    assert sum(day["counts"]["status"].values()) == day["counts"]["actions"]
    table = run("plan", "show", "--as-of", "2026-11-23", env=env).stdout
    assert "stored plan for 2026-11-23" in table and "planned" in table
    caught_up = json.loads(run("cycle", "--as-of", "2026-11-25", "--json", env=env).stdout)
    assert [d["business_date"] for d in caught_up] == ["2026-11-24", "2026-11-25"]
    assert "3 runs verified" in run("runs", "--verify", env=env).stdout
    refused = run("cycle", "--as-of", "2026-11-20", env=env, ok=False)
    assert refused.returncode == 1 and "before the last run" in refused.stderr
    candidate = tmp_path / "candidate.yaml"
    default = ROOT / "src" / "arrears" / "strategy" / "strategies" / "default.yaml"
    candidate.write_text(default.read_text().replace("capacity: 1000", "capacity: 3"))
    diff = run("plan", "diff", str(candidate), "--as-of", "2026-11-25", env=env).stdout
    assert "default -> default" in diff and "late" in diff
    broken = tmp_path / "broken.yaml"
    broken.write_text(default.read_text().replace("channel: legal_referral", "channel: fax"))
    bad = run("cycle", "--as-of", "2026-11-26", "--strategy", str(broken), env=env, ok=False)
    assert bad.returncode == 1 and "broken.yaml:" in bad.stderr and "channel" in bad.stderr


def test_templates_load_render_and_a_code_that_is_not_ours(tmp_path: Path) -> None:
    from tests.support.files import readme_loan_files

    env = {"ARREARS_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}"}
    run("init", env=env)
    run("ingest", str(readme_loan_files(tmp_path / "in")), env=env)
    loaded = run("template", "load", env=env).stdout
    assert "30 new, 0 changed, 0 unchanged" in loaded
    assert "0 new, 0 changed, 30 unchanged" in run("template", "load", env=env).stdout
    shown = run(
        "template", "render", "early_sms", "--loan-id", "L1", "--as-of", "2026-02-19", env=env
    ).stdout
    assert "early_sms [zh-CN] v1" in shown and "2,227.27" in shown and "35" in shown
    pdf, wav = tmp_path / "out" / "letter.pdf", tmp_path / "out" / "call.wav"
    run("template", "render", "collection_letter", "--loan-id", "L1", "--out", str(pdf), env=env)
    run(
        "template",
        "render",
        "early_robocall",
        "--loan-id",
        "L1",
        "--locale",
        "en",
        "--out",
        str(wav),
        env=env,
    )
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 10_000
    assert wav.read_bytes()[:4] == b"RIFF" and wav.stat().st_size > 100_000
    listed = run("template", "list", env=env).stdout
    assert "collection_letter" in listed and "third_party" in listed
    proc = run("verify", "ABCD-EFGH", env=env, ok=False)
    assert proc.returncode == 4 and "did not come from this lender" in " ".join(proc.stdout.split())
    answer = json.loads(run("verify", "not-a-real-code", "--json", env=env, ok=False).stdout)
    assert answer == {"genuine": False, "reason": "malformed", "details": None}


def _drop_rows(path: Path, loan_id: str) -> None:
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(x for x in lines if not x.startswith(loan_id + ",")))


def test_one_account_never_stops_the_book(tmp_path: Path) -> None:
    """The last loan by id has no instalment rows (built from its terms), and another is an
    explicit schedule with none (cannot be computed): the book is planned, the second
    quarantined and named in the run's record and in ``arrears runs``."""
    import csv

    env = {"ARREARS_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}"}
    run("init", env=env)
    gen = tmp_path / "gen"
    run(
        "generate",
        "--loans",
        "120",
        "--seed",
        "4",
        "--out",
        str(gen),
        "--as-of",
        "2026-11-23",
        env=env,
    )
    with (gen / "loans.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    last, broken = rows[-1]["loan_id"], rows[-2]["loan_id"]
    rows[-2]["method"] = "explicit"
    with (gen / "loans.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    _drop_rows(gen / "instalments.csv", last)
    _drop_rows(gen / "instalments.csv", broken)
    run("ingest", str(gen), env=env)
    [day] = json.loads(run("cycle", "--as-of", "2026-11-23", "--json", env=env).stdout)
    counts = day["counts"]
    assert counts["quarantined"] == 1
    [q] = counts["quarantined_accounts"]
    assert q["loan_id"] == broken and "explicit schedule has no instalments" in q["reason"]
    assert day["accounts"] == 119 and counts["actions"] > 0
    listed = run("runs", env=env).stdout
    assert "quarantined" in listed and broken in listed
    st = json.loads(run("statement", "--loan-id", last, "--as-of", "2026-11-23", env=env).stdout)
    assert len(st["instalments"]) > 0  # the schedule built from its terms


def test_the_data_lake_mode_needs_no_store(tmp_path: Path) -> None:
    """``cycle --source --out`` with no store initialised (the default URL points nowhere)."""
    from datetime import date

    from tests.unit.cycle.random_portfolio import snapshot

    lake = tmp_path / "lake"
    snapshot(3, 60, date(2026, 11, 23)).write_parquet(lake)
    env = {"ARREARS_DATABASE_URL": f"sqlite:///{tmp_path / 'never' / 'store.db'}"}
    out = tmp_path / "out"
    proc = run("cycle", "--as-of", "2026-11-23", "--source", str(lake), "--out", str(out), env=env)
    assert "Traceback" not in proc.stderr
    assert (out / "plan.parquet").exists() and (out / "quarantined.parquet").exists()
    assert not (tmp_path / "never" / "store.db").exists()  # nothing was opened


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--at", "tomorrow"], "expected an ISO 8601 instant"),
        (["--at", "2026-11-23T10:00"], "give the offset"),
        (["--at", "2026-11-23T10:00+08:00", "--workers", "2"], "one server process"),
    ],
)
def test_serve_refuses_a_clock_it_cannot_keep(tmp_path: Path, args: list[str], said: str) -> None:
    env = {"ARREARS_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}"}
    proc = run("serve", "--port", "1", *args, env=env, ok=False)
    assert proc.returncode == 2 and said in proc.stderr and "--at" in proc.stderr
