"""``arrears calls demo`` as a user runs it (a real process, a real SQLite store): a collector's
call placed through the loopback stand-in dialer, recorded, transcribed and scored with a
flagged breach and its time span; a dial at night refused with the rule and when it becomes
allowed; ``arrears calls show`` prints the call's transcript and scorecard. Every borrower
lives in Urumqi (two hours behind Shanghai), so the demo's times are the borrower's own: 23:30
in Shanghai is 21:30 there, inside the hours, and was once dialled."""

from __future__ import annotations

import json
import re
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.e2e.test_cli import run


def test_the_calls_demo_dials_inspects_and_refuses(tmp_path: Path) -> None:
    env = {"ARREARS_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}"}
    run("init", env=env)
    run("generate", "--loans", "1500", "--seed", "5", "--out", str(tmp_path / "gen"), env=env)
    run("ingest", str(tmp_path / "gen"), env=env)
    engine = create_engine(env["ARREARS_DATABASE_URL"])
    with engine.begin() as conn:
        conn.execute(text("UPDATE borrower SET timezone = 'Asia/Urumqi'"))
    engine.dispose()
    run("cycle", env=env)
    said = run("calls", "demo", env=env).stdout
    assert "****" in said
    assert "completed, connected" in said
    assert re.search(r"scorecard \d+ \(flagged\)", said), said
    assert re.search(r"\d+\.\d–\d+\.\d s  违规用语", said), said
    assert "QA alert" in said and "/compliance/calls/ca-" in said
    assert "10:30 (Asia/Urumqi) C0007 dials loan" in said
    assert "23:30 (Asia/Urumqi) C0007 dials loan" in said and "refused" in said
    assert "should not" not in said
    assert "cn.hours" in said and "08:00" in said
    attempt = re.search(r"/compliance/calls/(ca-[0-9a-f]+)", said)
    assert attempt is not None
    shown = run("calls", "show", attempt.group(1), env=env).stdout
    assert "conversation" in shown and "agent" in shown
    card = json.loads(shown[shown.index("{") :])
    assert card["flagged"] is True
    assert any(f["kind"] == "prohibited" for f in card["findings"])
