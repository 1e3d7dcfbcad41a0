"""``arrears calls demo`` as a user runs it (a real process, a real SQLite store): a collector's
call placed through the loopback stand-in dialer, recorded, transcribed and scored with a
flagged breach and its time span; a dial at night refused with the rule and when it becomes
allowed; ``arrears calls show`` prints the call's transcript and scorecard."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.e2e.test_cli import run


def test_the_calls_demo_dials_inspects_and_refuses(tmp_path: Path) -> None:
    env = {"ARREARS_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}"}
    run("init", env=env)
    run("generate", "--loans", "1500", "--seed", "5", "--out", str(tmp_path / "gen"), env=env)
    run("ingest", str(tmp_path / "gen"), env=env)
    run("cycle", env=env)
    said = run("calls", "demo", env=env).stdout
    assert "10:30 C0007 dials loan" in said and "****" in said
    assert "completed, connected" in said
    assert re.search(r"scorecard \d+ \(flagged\)", said), said
    assert re.search(r"\d+\.\d–\d+\.\d s  违规用语", said), said
    assert "QA alert" in said and "/compliance/calls/ca-" in said
    assert "23:30 C0007 dials loan" in said and "refused" in said
    assert "cn.hours" in said and "08:00" in said
    attempt = re.search(r"/compliance/calls/(ca-[0-9a-f]+)", said)
    assert attempt is not None
    shown = run("calls", "show", attempt.group(1), env=env).stdout
    assert "conversation" in shown and "agent" in shown
    card = json.loads(shown[shown.index("{") :])
    assert card["flagged"] is True
    assert any(f["kind"] == "prohibited" for f in card["findings"])
