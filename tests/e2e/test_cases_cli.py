"""Payments as events and promises from the command line, as a user runs them."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tests.e2e.test_cli import run


def test_payments_file_promise_and_reversal(tmp_path: Path) -> None:
    from datetime import datetime

    from tests.support.files import readme_loan_files

    env = {"ARREARS_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}"}
    run("init", env=env)
    run("ingest", str(readme_loan_files(tmp_path / "in")), env=env)
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "payment_id,loan_id,paid_on,amount\nP1,NOPE,2026-02-01,100\n"
        f"P2,L1,{today + timedelta(days=2)},12.5\n"
    )
    proc = run("payment", "import", str(bad), env=env, ok=False)
    said = " ".join(proc.stderr.split())
    assert proc.returncode == 1 and "nothing was posted" in said
    assert "row 2, loan_id: NOPE is not in the store" in said
    assert "row 3, paid_on:" in said and "row 3, amount: expected whole fen" in said
    good = tmp_path / "good.csv"
    good.write_text(
        "payment_id,loan_id,paid_on,amount\nP1,L1,2026-02-01,50000\nP2,L1,2026-02-10,60016\n"
    )
    assert "2 payments posted" in run("payment", "import", str(good), env=env).stdout
    again = run("payment", "import", str(good), env=env, ok=False)
    assert "P1 was posted already" in " ".join(again.stderr.split())
    st = json.loads(run("statement", "--loan-id", "L1", "--as-of", str(today), env=env).stdout)
    due = st["total_due"]
    part = f"{today + timedelta(days=3)}:{due}"
    made = run("promise", "make", "--loan-id", "L1", "--part", part, "--by", "C0007", env=env)
    assert "promise of 1 part(s) recorded for L1" in made.stdout
    listed = run("promise", "list", "--loan-id", "L1", env=env).stdout
    assert "pending" in listed and f"{due:,}" in listed and "C0007" in listed
    far = f"{today + timedelta(days=30)}:{due}"
    refused = run("promise", "make", "--loan-id", "L1", "--part", far, env=env, ok=False)
    assert refused.returncode == 1 and "more than 14 days out" in refused.stderr
    second = run("promise", "make", "--loan-id", "L1", "--part", part, env=env, ok=False)
    assert second.returncode == 1 and "pending promise" in " ".join(second.stderr.split())
    back = run("payment", "reverse", "P2", "--reason", "bounced", env=env)
    assert "reversed P2 on L1" in back.stdout
    after = json.loads(run("statement", "--loan-id", "L1", "--as-of", str(today), env=env).stdout)
    assert after["total_due"] > due  # the bounced 600.16 is owed again
    assert date.fromisoformat(after["as_of"]) == today


def test_waivers_from_the_command_line(tmp_path: Path) -> None:
    from datetime import datetime

    from tests.support.files import readme_loan_files

    env = {"ARREARS_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}"}
    run("init", env=env)
    run("ingest", str(readme_loan_files(tmp_path / "in")), env=env)
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()

    def penalty() -> int:
        st = run("statement", "--loan-id", "L1", "--as-of", str(today), env=env).stdout
        return int(json.loads(st)["overdue"]["penalty"])

    before = penalty()
    shown = run(
        "waiver",
        "propose",
        "--loan-id",
        "L1",
        "--by",
        "C1",
        "--role",
        "collector",
        "--reason",
        "x",
        "--penalty",
        str(before),
        "--preview",
        env=env,
    ).stdout
    assert "saving_to_borrower" in shown and penalty() == before  # a preview changes nothing
    small = run(
        "waiver",
        "propose",
        "--loan-id",
        "L1",
        "--by",
        "C1",
        "--role",
        "collector",
        "--reason",
        "hardship",
        "--penalty",
        "1",
        env=env,
    ).stdout
    assert ": active" in small and penalty() == before - 1
    big = run(
        "waiver",
        "propose",
        "--loan-id",
        "L1",
        "--by",
        "C1",
        "--role",
        "collector",
        "--reason",
        "hardship",
        "--penalty",
        str(before - 1),
        env=env,
    ).stdout
    assert ": pending_approval" in big
    arrangement = big.strip().splitlines()[-1].split(":")[0]
    own = run(
        "waiver", "approve", arrangement, "--by", "C1", "--role", "supervisor", env=env, ok=False
    )
    assert own.returncode == 1 and "second person" in " ".join(own.stderr.split())
    run("waiver", "approve", arrangement, "--by", "S1", "--role", "supervisor", env=env)
    assert penalty() == 0


def test_a_complaint_from_the_command_line(tmp_path: Path) -> None:
    from tests.support.files import readme_loan_files

    env = {"ARREARS_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}"}
    run("init", env=env)
    run("ingest", str(readme_loan_files(tmp_path / "in")), env=env)
    bad = run(
        "complaint",
        "file",
        "--borrower-id",
        "B1",
        "--category",
        "rudeness",
        "--description",
        "x",
        env=env,
        ok=False,
    )
    assert bad.returncode == 1 and "category: expected one of" in bad.stderr
    filed = run(
        "complaint",
        "file",
        "--borrower-id",
        "B1",
        "--loan-id",
        "L1",
        "--category",
        "calls_at_night",
        "--description",
        "半夜十一点打电话",
        env=env,
    ).stdout
    assert ": open, finding due" in filed and "hold none" in filed  # not a holding category
    held = run(
        "complaint",
        "file",
        "--borrower-id",
        "B1",
        "--loan-id",
        "L1",
        "--category",
        "privacy_leak",
        "--description",
        "告诉了我同事",
        "--source",
        "collector",
        "--taken-by",
        "C0007",
        env=env,
    ).stdout
    assert "hold hd-" in " ".join(held.split())
    cid = filed.split(":")[0]
    done = run(
        "complaint",
        "resolve",
        cid,
        "--finding",
        "not_upheld",
        "--resolution",
        "calls were at 20:15 local",
        "--by",
        "Q1",
        env=env,
    ).stdout
    assert f"{cid}: resolved (not_upheld)" in done
    assert "0 escalated" in run("complaint", "escalate", env=env).stdout


def test_arrangements_from_the_command_line(tmp_path: Path) -> None:
    from tests.support.files import readme_loan_files

    env = {"ARREARS_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}"}
    run("init", env=env)
    run("ingest", str(readme_loan_files(tmp_path / "in")), env=env)
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()

    def statement() -> dict[str, Any]:
        out = run("statement", "--loan-id", "L1", "--as-of", str(today), env=env).stdout
        return dict(json.loads(out))

    before = statement()
    args = ("--loan-id", "L1", "--by", "C1", "--role", "collector", "--reason", "lost job")
    shown = run(
        "arrangement", "propose", "plan", *args, "--parts", "8", "--preview", env=env
    ).stdout
    assert "schedule (fen)" in shown and "saving_to_borrower" in shown
    assert statement() == before  # a preview changes nothing
    bad = run("arrangement", "propose", "plan", *args, "--parts", "99", env=env, ok=False)
    assert bad.returncode == 1 and "parts: 2 to 24, got 99" in bad.stderr
    waiting = run("arrangement", "propose", "plan", *args, "--parts", "8", env=env).stdout
    assert ": pending_approval" in waiting and statement() == before  # 8 > a collector's 6
    ar_id = waiting.strip().splitlines()[-1].split(":")[0]
    run("arrangement", "approve", ar_id, "--by", "S1", "--role", "supervisor", env=env)
    after = statement()
    plan = [i for i in after["instalments"] if i["arrangement_id"] == ar_id]
    assert len(plan) == 8 and after["total_due"] == 0 and after["dpd"] < 0
    assert sum(i["amount"] + i["penalty_carried"] for i in plan) == before["total_due"]
    listed = run("arrangement", "list", "--loan-id", "L1", env=env).stdout
    assert ar_id in listed and "active" in listed and "S1" in listed
