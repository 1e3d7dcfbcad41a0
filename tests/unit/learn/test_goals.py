"""The goals table, worked by hand on two worlds, and the judge's refusal of a bad worlds
file naming the file, the world and the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from arrears.cli import app
from arrears.learn.evaluate import goals_table


def _run(world: str, policy: str, owed: int, recovered: int, accounts: int, contacts: int,
         complaints: int, breaks: int = 0) -> dict[str, Any]:  # fmt: skip
    return {
        "world": world,
        "policy": policy,
        "owed": owed,
        "recovered": recovered,
        "recovery": recovered / owed,
        "accounts": accounts,
        "contacts": contacts,
        "contacts_per_account": contacts / accounts,
        "complaints": complaints,
        "complaints_per_10k": 10_000 * complaints / contacts,
        "rule_breaks": breaks,
        "cost": contacts * 10,
    }


def test_goals_worked_by_hand() -> None:
    runs = [
        _run("a", "champion", 1000, 500, 10, 100, 4),
        _run("a", "learned", 1000, 540, 10, 60, 1),
        _run("b", "champion", 1000, 600, 10, 100, 4),
        _run("b", "learned", 1000, 590, 10, 70, 2),
    ]
    worlds, goals = goals_table(runs)
    assert [(w["world"], w["beats"]) for w in worlds] == [("a", True), ("b", False)]
    assert worlds[0]["points"] == pytest.approx(4.0) and worlds[1]["points"] == pytest.approx(-1.0)
    by = {g["goal"]: g for g in goals}
    # pooled: 1130 / 2000 against 1100 / 2000: +2.73%, short of +3%
    rec = by["90-day recovery of accounts entering collection, relative"]
    assert rec["measured"] == pytest.approx(30 / 1100) and rec["met"] is False
    contacts = by["contacts per account"]
    assert contacts["measured"] == pytest.approx(-0.35) and contacts["met"] is True
    # 3 complaints in 130 contacts against 8 in 200
    comp = by["complaints per 10,000 contacts"]
    assert comp["measured"] == pytest.approx((3 / 130) / (8 / 200) - 1) and comp["met"] is True
    assert by["rule breaks"]["met"] is True
    assert by["worlds where it beats the champion"]["measured"] == 0.5
    assert by["worst world, recovery points"]["measured"] == pytest.approx(-1.0)
    assert by["worst world, recovery points"]["met"] is False


def test_a_bad_worlds_file_is_refused_naming_file_world_and_field(tmp_path: Path) -> None:
    from arrears.learn.models import train
    from tests.unit.learn.test_models import _log

    model = tmp_path / "m.json"
    train(_log(1500)).save(model)
    bad = tmp_path / "worlds.yaml"
    bad.write_text(
        "worlds:\n"
        "  - {name: ok, seed: 1, type_mix: {forgets: 1.0}}\n"
        "  - {name: odd, seed: 2, type_mix: {forgets: 0.5, never: 0.2}}\n"
    )
    got = CliRunner().invoke(
        app, ["learn", "evaluate", "--model", str(model), "--worlds", str(bad)]
    )
    assert got.exit_code != 0
    said = "".join(got.output.split())  # the message as the terminal wrapped it, joined
    assert "worlds.yaml" in said and "worlds[1](odd)" in said and "type_mix" in said


def test_the_report_draws_every_chart_from_the_figures(tmp_path: Path) -> None:
    from arrears.learn.report import write
    from arrears.learn.worlds import TYPES

    runs = []
    for world, (c, ch) in {"a": (500, 540), "b": (600, 590)}.items():
        for policy, got in (("champion", c), ("learned", ch)):
            r = _run(world, policy, 1000, got, 10, 100 if policy == "champion" else 60, 2)
            r["curve"] = [got / 2000, got / 1000]
            r["cost_per_yuan"] = r["cost"] / got
            r["by_type"] = {k: {"accounts": 2, "owed": 200, "recovered": got // 5,
                                "contacts": 20, "complaints": 0} for k in TYPES}  # fmt: skip
            runs.append(r)
    _, goals = goals_table(runs)
    out = tmp_path / "r.html"
    write({"runs": runs, "goals": goals, "worlds": ["a", "b"], "days": 2, "loans": 20}, out)
    page = out.read_text()
    assert page.count("<img") == 5 and "data:image/png;base64," in page
    assert "90-day recovery of accounts entering collection, relative" in page and "not met" in page
    assert all(k in page for k in TYPES)


def test_the_judge_says_what_the_goals_were_measured_on() -> None:
    from arrears.cli.learn_commands import measured_on

    runs = []
    for world in ("a", "b"):
        for policy, got in (("champion", 400), ("learned", 500)):
            r = _run(world, policy, 1000, 900, 12, 100, 2)
            r |= {"window": 30, "follow": 90,
                  "stock": {"accounts": 50, "owed": 10_000, "recovered": got * 10}}  # fmt: skip
            runs.append(r)
    said = measured_on(runs)
    assert "the 24 accounts entering collection in the first 30 days" in said
    assert "its first 90 days" in said
    assert "The 100 accounts already in collection" in said
    assert "champion 40.0%, learned 50.0%" in said
