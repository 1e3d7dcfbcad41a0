"""Strategy files: the default loads; every fault is reported with file, line and field."""

from __future__ import annotations

import pytest

from arrears.strategy.model import StrategyError, load, loads

GOOD = """\
strategy: tiny
version: "1"
title: {zh-CN: 小策略, en: Tiny}
stages:
  - {name: early, from: 1, to: 30}
  - {name: late, from: 31}
segments:
  - {name: risky, when: "score < 0.3"}
  - {name: rest}
queues:
  calls: {capacity: 10}
experiments:
  - name: tone
    salt: s1
    arms: [{name: a, weight: 1}, {name: b, weight: 3}]
treatments:
  early:
    all:
      - {on_day: 1, channel: sms, template: t1}
      - {every: 2, from_day: 5, to_day: 11, channel: agent_call, queue: calls,
         priority: "total_due * (1 - score)"}
  late:
    risky:
      - {on_day: [31, 40], channel: sms, template: t2, arm: tone/b}
"""


def _problems(text: str) -> list[str]:
    with pytest.raises(StrategyError) as info:
        loads(text, "s.yaml")
    return [str(p) for p in info.value.problems]


def test_the_default_strategy_loads_with_every_stage_treated() -> None:
    s = load("default")
    assert [st.name for st in s.stages] == ["pre_due", "early", "mid", "late", "legal"]
    assert {step.stage for step in s.steps} == {st.name for st in s.stages}
    assert {step.channel for step in s.steps} >= {
        "sms",
        "push",
        "email",
        "letter",
        "robocall",
        "agent_call",
        "visit",
        "agency",
        "legal_referral",
    }
    assert s.spec.title.zh_CN == "默认催收策略" and s.spec.title.en


def test_steps_fire_on_their_days() -> None:
    s = loads(GOOD)
    sms, calls, late = s.steps
    assert sms.id == "early.all.1" and [d for d in range(-3, 40) if sms.fires_on(d)] == [1]
    assert [d for d in range(0, 40) if calls.fires_on(d)] == [5, 7, 9, 11]
    assert [d for d in range(0, 50) if late.fires_on(d)] == [31, 40]
    assert (late.experiment, late.arm) == ("tone", "b")


def test_experiment_arms_follow_the_weights() -> None:
    tone = loads(GOOD).experiments[0]
    arms = [tone.arm_for(b) for b in range(10_000)]
    assert arms.count("a") == 2500 and arms.count("b") == 7500
    assert tone.edges() == [("a", 2500), ("b", 10000)]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "channel: sms, template: t1",
            "channel: fax, template: t1",
            "s.yaml:19: treatments.early.all[0].channel: expected one of 'sms'",
        ),
        (
            "channel: sms, template: t1}",
            "channel: sms}",
            "s.yaml:19: treatments.early.all[0].template: a sms step needs a template",
        ),
        ('"score < 0.3"', '"score <"', "s.yaml:8: segments[0].when: unexpected"),
        ('"score < 0.3"', '"scor < 0.3"', "unknown attribute 'scor'"),
        ("  late:\n    risky", "  lat:\n    risky", "s.yaml:22: treatments.lat: no such stage"),
        ("from: 31}", "from: 30}", "s.yaml:6: stages[1].from: stages must be in DPD order"),
        ("arm: tone/b", "arm: tone/c", "treatments.late.risky[0].arm: expected EXPERIMENT/ARM"),
        ("{name: rest}", '{name: rest, when: "dpd > 0"}', "segments[1].when: the last segment"),
        ("queue: calls,", "queue: nope,", "treatments.early.all[1].queue: a agent_call step"),
        ('version: "1"\n', "", "s.yaml:1: version: required, but missing"),
        ("from_day: 5, ", "", "treatments.early.all[1].from_day: every needs from_day"),
        ("capacity: 10", "capacity: -1", "s.yaml:11: queues.calls.capacity: Input should be"),
    ],
)
def test_faults_name_the_line_and_field(old: str, new: str, expected: str) -> None:
    assert old in GOOD
    problems = _problems(GOOD.replace(old, new, 1))
    assert any(expected in p for p in problems), problems


def test_a_yaml_syntax_error_names_its_line() -> None:
    problems = _problems(GOOD.replace("queues:\n", "queues: [\n"))
    assert problems[0].startswith("s.yaml:") and "(syntax)" in problems[0]


def test_a_missing_file_is_a_clear_error(tmp_path: object) -> None:
    with pytest.raises(StrategyError, match="no_such.yaml"):
        load("no_such.yaml")


BOMB = """\
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (BOMB, "more than"),  # a few lines, billions of values once expanded
        ("a: " + "[" * 5000 + "]" * 5000, "nesting deeper than"),
        ("x: 1\n" * 10 + "y: " + "{a: " * 300 + "1" + "}" * 300, "nesting deeper than"),
        ("strategy: " + "9" * 5000, "(limits)"),
        ("# " + "x" * (300 * 1024), "larger than"),
    ],
)
def test_hostile_yaml_is_refused_naming_the_limit(text: str, expected: str) -> None:
    problems = _problems(text)
    assert problems[0].startswith("s.yaml") and expected in problems[0], problems


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("(" * 3000 + "dpd" + ")" * 3000, "longer than"),
        ("(" * 100 + "dpd > 1" + ")" * 100, "brackets nested deeper"),
        (" and ".join(["dpd > 1"] * 300), "operators deep"),
        ("dpd > " + "9" * 3000, "more than 30 digits"),
        ('product == "\\x41"', "unknown escape"),
        ('product == "\\u12"', "unknown escape"),
        ("not " * 400 + "promise_active", "deep"),
    ],
)
def test_hostile_conditions_are_refused_with_line_and_field(condition: str, expected: str) -> None:
    text = GOOD.replace('"score < 0.3"', "'" + condition.replace("'", "''") + "'")
    problems = _problems(text)
    assert any(p.startswith("s.yaml:8: segments[0].when:") and expected in p for p in problems), (
        problems
    )


def test_string_escapes_and_non_ascii_text_in_conditions() -> None:
    s = loads(GOOD.replace('"score < 0.3"', "'product == \"分期\\n\\u0041\"'"), "s.yaml")
    assert s.segments[0][1].right.value == "分期\nA"  # type: ignore[union-attr]
