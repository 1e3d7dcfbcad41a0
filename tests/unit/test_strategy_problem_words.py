"""A strategy's problems in the strategy manager's language: every fault the loader and the
upload's checks write is said in zh-CN words (never the fallback that quotes the English), the
names and values it quotes kept as they are; English reads as the checker wrote it (as the
command line shows it)."""

from __future__ import annotations

import re

import pytest

from arrears.strategy.model import StrategyError, load, loads
from arrears.web.console.problems import MESSAGES, problem_words

SHIPPED = load("default").source
#: faults, each made by one edit of the shipped default strategy
EDITS = {
    "stage order": ("from: 1, to: 17", "from: 1, to: -17"),
    "condition": ('when: "score < 0.3 or broken_promises >= 2"', 'when: "scor < 0.3"'),
    "unfinished condition": ('when: "score < 0.3 or broken_promises >= 2"', 'when: "score <"'),
    "catch-all": ("  - name: standard\n", "  - name: standard\n    when: dpd > 3\n"),
    "from_day": ("every: 7, from_day: 31,", "every: 7,"),
    "template": ("channel: robocall, template: early_robocall}", "channel: robocall}"),
    "queue": ("queue: early_callback,", "queue: nope,"),
    "collectors": ("collectors: 2, when", "when"),
    "arm": ("arm: early_tone/champion", "arm: early_tone"),
    "stage": ("  early:\n    high_risk:", "  earl:\n    high_risk:"),
    "segment": ("    forgetful:\n      - {on_day: 1", "    forgot:\n      - {on_day: 1"),
    "twice": ("  - name: forgetful ", "  - name: high_risk "),
    "no day": ("{on_day: 5, channel: robocall,", "{channel: robocall,"),
    "both": ("{on_day: 5, channel: robocall,",
             "{on_day: 5, channel: robocall, best_of: [sms, none],"),
}  # fmt: skip
SCHEMA = {
    "not a list": "strategy: x\nversion: '1'\nstages: nope\n",
    "unknown channel": (
        "strategy: x\nversion: '1'\ntitle: {zh-CN: a, en: b}\nstages: [{name: e, from: 1}]\n"
        "segments: [{name: s}]\ntreatments: {e: {all: [{on_day: x, channel: fax}]}}\nfoo: 1\n"
    ),
    "too much exploring": SHIPPED.replace("carry_over:", "explore: {early: 2}\ncarry_over:"),
    "not a mapping": "- a\n- b\n",
}
FALLBACK = "校验提示（原文）"


def _problems(text: str) -> list[str]:
    with pytest.raises(StrategyError) as caught:
        loads(text, "upload")
    return [str(p) for p in caught.value.problems]


@pytest.mark.parametrize("fault", sorted(EDITS))
def test_each_fault_of_a_strategy_is_said_in_chinese(fault: str) -> None:
    old, new = EDITS[fault]
    assert old in SHIPPED, fault
    problems = _problems(SHIPPED.replace(old, new, 1))
    assert problems
    for p in problems:
        zh = problem_words(p, "zh-CN")
        assert FALLBACK not in zh, p
        assert re.search(r"[\u4e00-\u9fff]", zh), p
        # the place: file and line, then the field as the file spells it
        line = re.match(r"upload:(\d+): (\S+): ", p)
        assert line is not None and zh.startswith(f"upload 第 {line[1]} 行，{line[2]}："), (p, zh)
        assert problem_words(p, "en") == p


@pytest.mark.parametrize("case", sorted(SCHEMA))
def test_a_files_form_faults_are_said_in_chinese(case: str) -> None:
    for p in _problems(SCHEMA[case]):
        zh = problem_words(p, "zh-CN")
        assert FALLBACK not in zh and re.search(r"[\u4e00-\u9fff]", zh), (p, zh)


def test_what_each_says_exactly() -> None:
    said = [
        ("upload:11: stages[1].to: -17 is before from (1)",
         "upload 第 11 行，stages[1].to：-17 早于 from（1）"),
        ("upload:3: stages: Input should be a valid list, got 'nope'",
         "upload 第 3 行，stages：应为列表，实际为 'nope'"),
        ("upload:18: segments[0].when: unknown attribute 'scor'; known: dpd, score"
         " (at column 1) in 'scor < 0.3'",
         "upload 第 18 行，segments[0].when：条件 'scor < 0.3' 第 1 列："
         "未知属性 'scor'；可用属性：dpd, score"),
        ("upload:6: treatments.e.all[0].channel: expected one of 'sms', 'push' or 'visit',"
         " got 'fax'",
         "upload 第 6 行，treatments.e.all[0].channel：应为 'sms', 'push', 'visit' 之一，"
         "实际为 'fax'"),
        ("upload: treatments (step early.sms): template: no template is named 'zz'",
         "upload，treatments (step early.sms)：没有名为 'zz' 的模板"),
        ("upload: treatments (step x): queue: no queue is named 'q' under queues",
         "upload，treatments (step x)：queues 下没有名为 'q' 的队列"),
        ("upload:1: (syntax): while parsing a flow node",
         "upload 第 1 行，YAML 语法：校验提示（原文）：while parsing a flow node"),
    ]  # fmt: skip
    for english, chinese in said:
        assert problem_words(english, "zh-CN") == chinese
    first = said[0][0]
    assert problem_words(first, "en") == first


def test_every_form_listed_is_reached_by_a_message_it_was_written_for() -> None:
    """No form is shadowed by one listed before it: each pattern's own example matches it
    first."""
    examples = [
        "required, but missing", "unknown field", "expected one of 'a' or 'b', got 'c'",
        "no such stage; stages: a, b", "no such segment; segments: a (or all)",
        "the last segment must be a catch-all (omit when), so every account has a segment",
        "'x' appears twice; names must be unique", "3 is before from (5)",
        "stages must be in DPD order without overlap", "the weights must add up to more than 0",
        "a step needs a channel, or best_of: a list of channels to choose from",
        "a step with one channel has one queue", "each channel may be listed once",
        "a choice's id must leave room for its channels (49 at most)",
        "a visit step needs a queue defined under queues",
        "an agency step needs a pool defined under pools",
        "a step needs on_day or every (with from_day)",
        "every needs from_day: the DPD the repetition starts on", "a sms step needs a template",
        "a home visit needs the number of collectors",
        "expected EXPERIMENT/ARM naming a defined experiment's arm",
        "expected a mapping with strategy, version, title, stages ...",
        "no such shipped strategy; give a file path", "no template is named 'a'",
        "'a' is a letter template, not sms", "no queue is named 'q' under queues",
        "no pool is named 'p' under pools", "unexpected 'x' (at column 2) in 'a x'",
        "unknown attribute 'a'; known: b", "expected ')', found 'the end'",
        "unexpected character '$'", "unexpected 'x'", "empty expression",
        "Input should be a valid integer, got 'x'", "Input should be a valid integer",
        "Input should be a valid number", "Input should be a valid string",
        "Input should be a valid list", "Input should be a valid dictionary",
        "Input should be a valid boolean", "Input should be greater than or equal to 1",
        "Input should be less than or equal to 0.5", "Input should be greater than 0",
        "String should match pattern '^[a-z]+$'", "String should have at least 1 character",
        "String should have at most 64 characters",
        "List should have at least 2 items after validation, not 1",
        "List should have at most 8 items after validation, not 9",
    ]  # fmt: skip
    first: dict[int, str] = {}
    for text in examples:
        hit = next(k for k, (pattern, _) in enumerate(MESSAGES) if pattern.match(text))
        first.setdefault(hit, text)
    assert len(first) == len(MESSAGES), [
        MESSAGES[k][1] for k in range(len(MESSAGES)) if k not in first
    ]
