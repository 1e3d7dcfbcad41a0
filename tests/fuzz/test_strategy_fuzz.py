"""Fuzz the strategy loader with the shipped default strategy, mutated: its data changed at
random, its conditions and priorities rewritten, its text edited, and hostile YAML put in
(anchors and aliases, deep nesting, huge numbers, tags, odd unicode).

The contract: ``loads(text, "s.yaml")`` returns a Strategy, or raises StrategyError whose
problems each start with "s.yaml" (at a line of the file, when one is given); never anything
else, and no traceback printed on the way.
"""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from importlib import resources
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from arrears.strategy.attributes import NAMES
from arrears.strategy.model import Strategy, StrategyError, loads
from tests.fuzz.helpers import Tally, fuzz, tracebacks

Draw = Callable[[st.SearchStrategy[Any]], Any]
FILE = "s.yaml"
DEFAULT_TEXT = (resources.files("arrears.strategy") / "strategies" / "default.yaml").read_text(
    encoding="utf-8"
)
DEFAULT = yaml.safe_load(DEFAULT_TEXT)
_BREAKS = re.compile(r"\r\n|[\r\n\x85\u2028\u2029]")


def check_loads(text: str, tally: Tally) -> str:
    """Load ``text`` and hold the loader to its contract; returns the outcome."""
    outcome, problems = "crash", []
    started = time.perf_counter()
    with tracebacks() as printed:
        try:
            result = loads(text, FILE)
            assert isinstance(result, Strategy), f"loads returned {type(result).__name__}"
            outcome = "loaded"
        except StrategyError as exc:
            outcome, problems = "refused", exc.problems
        finally:
            tally(outcome)
            tally.timed(time.perf_counter() - started)
    assert not printed, f"a traceback was printed ({outcome}): {printed[0]}"
    if outcome == "refused":
        assert problems, "StrategyError without problems"
        lines = len(_BREAKS.split(text)) + 1
        for p in problems:
            assert str(p).startswith(FILE) and p.file == FILE, f"a problem names no file: {p}"
            assert p.line is None or 1 <= p.line <= lines, f"line {p.line} of {lines}: {p}"
    return outcome


def test_the_default_strategy_loads(tally: Tally) -> None:
    assert check_loads(DEFAULT_TEXT, tally) == "loaded"


# ------------------------------------------------------------------------------------------
# values YAML can carry, plain and odd

ODD_TEXT = [
    "", " ", "\t", "\x00", "\x1b[2J", "\ud800", "\udfff", "\u202e", "\u200b", "\ufeff",
    "\u2028", "\x85", "😀", "ß", "İ", "ǅ", "𝟙", "١٢", "１２", "true", "null", "~", "yes", "no",
    "on", ".nan", ".inf", "0x1F", "0o17", "1_000", "1:20", "2026-11-23", "<<", "*a", "&a",
    "!!python/object/apply:os.system", "{", "[", "'", '"', "a" * 300, "sms", "all", "default",
]  # fmt: skip
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-1000, 1000),
    st.integers(-(10**60), 10**60),
    st.floats(),
    st.text(max_size=20),
    st.sampled_from(ODD_TEXT),
    st.dates(min_value=date(1, 1, 1)),
    st.datetimes(),
    st.binary(max_size=8),
)
KEYS = ["name", "when", "priority", "on_day", "every", "from_day", "to_day", "channel",
        "template", "queue", "pool", "label", "zh-CN", "en", "from", "to", "capacity", "arms",
        "weight", "salt", "arm", "collectors", "channels", "id"]  # fmt: skip
keys = st.one_of(st.sampled_from(KEYS), st.text(max_size=8))
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)),
    max_leaves=12,
)


def _paths(tree: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in ``tree`` (a key of a mapping, an index of a list)."""
    out = [at]
    if isinstance(tree, dict):
        for k, v in tree.items():
            out += _paths(v, (*at, k))
    elif isinstance(tree, list):
        for k, v in enumerate(tree):
            out += _paths(v, (*at, k))
    return out


def _at(tree: Any, path: tuple[Any, ...]) -> Any:
    for p in path:
        tree = tree[p]
    return tree


def _mutate(draw: Draw, data: Any) -> Any:
    """One change to the strategy's data: a value replaced, removed, added, copied or
    wrapped."""
    path = draw(st.sampled_from(_paths(data)))
    kind = draw(st.sampled_from(["replace", "replace", "remove", "add", "copy", "wrap"]))
    if not path:
        return draw(values) if kind == "replace" else data
    parent, key = _at(data, path[:-1]), path[-1]
    if kind == "replace":
        parent[key] = draw(values)
    elif kind == "remove":
        del parent[key]
    elif kind == "add" and isinstance(parent, dict):
        parent[draw(keys)] = draw(values)
    elif kind == "copy" and isinstance(parent, list):
        parent.insert(draw(st.integers(0, len(parent))), copy.deepcopy(parent[key]))
    elif kind == "wrap":
        parent[key] = draw(st.sampled_from([[parent[key]], {"x": parent[key]}, str(parent[key])]))
    return data


def _dump(draw: Draw, data: Any) -> str:
    return yaml.safe_dump(
        data,
        allow_unicode=draw(st.booleans()),
        default_flow_style=draw(st.sampled_from([False, None, True])),
        sort_keys=False,
        width=draw(st.sampled_from([80, 4096])),
    )


@fuzz(300)
@given(data=st.data())
def test_mutated_default_strategy(tally: Tally, data: st.DataObject) -> None:
    tree = copy.deepcopy(DEFAULT)
    for _ in range(data.draw(st.integers(1, 5))):
        tree = _mutate(data.draw, tree)
    check_loads(_dump(data.draw, tree), tally)


# ------------------------------------------------------------------------------------------
# conditions and priorities

OPS = ["and", "or", "<", "<=", ">", ">=", "==", "!=", "+", "-", "*", "/", "in", "not in", "=",
       "&&", "||", "%", "**", "<>", "is", "=>", "==="]  # fmt: skip
atoms = st.one_of(
    st.sampled_from(sorted(NAMES)),
    st.sampled_from(["true", "false", "null", "unknown", "Score", "dpd_", "_", "__class__"]),
    st.integers(-(10**40), 10**40).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["1e5", "1.", ".5", "0x10", "1_0", "１", "١", "∞", "NaN", "9" * 31]),
    st.text(max_size=6).map(lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'),
    st.sampled_from(
        [
            '"\\u00e9"',
            '"\\ud800"',
            '"\\q"',
            '"\\',
            "'x'",
            '"open',
            "'\\u12'",
            '"\\uZZZZ"',
            '"\\n\\t\\r\\/"',
        ]
    ),
    st.lists(st.sampled_from(["1", '"a"', "dpd", "null", "[1]", "(1)"]), max_size=4).map(
        lambda xs: "[" + ", ".join(xs) + "]"
    ),
)
expressions = st.recursive(
    atoms,
    lambda e: st.one_of(
        st.builds(lambda a, op, b: f"{a} {op} {b}", e, st.sampled_from(OPS), e),
        e.map(lambda x: f"({x})"),
        e.map(lambda x: f"not {x}"),
        e.map(lambda x: f"-{x}"),
        e.map(lambda x: f"({x}"),
        e.map(lambda x: f"{x})"),
    ),
    max_leaves=16,
)
HOSTILE_EXPRESSIONS = [
    "(" * 48 + "1" + ")" * 48, "(" * 49 + "1" + ")" * 49, "[" * 60, "not " * 999 + "true",
    "-" * 3990 + "1", "1+" * 1990 + "1", "1" + " and 1" * 600, "a" * 5000, "dpd >= 1" + " " * 4000,
    "dpd ＞ 1", "total_due / 0", "score in []", "dpd in [dpd]", "", " ", "\t", "\x00", "\n",
    "dpd >= 1\n", "# comment", "dpd >= 1 # c", "𝐝𝐩𝐝 > 1", "dpd > 1e400", "9" * 30, "9" * 31,
    "0." + "9" * 29, "'" * 3, "\\", '"\\u0000"', "not in", "in [1]", "dpd not", "dpd not in",
]  # fmt: skip


def _conditions(tree: Any) -> list[tuple[Any, ...]]:
    """Where the strategy has conditions and priorities (and where a step could have one)."""
    out = []
    for path in _paths(tree):
        node = _at(tree, path)
        if path and path[-1] in ("when", "priority"):
            out.append(path)
        elif isinstance(node, dict) and "channel" in node:
            out += [(*path, "when"), (*path, "priority")]
    return out


@fuzz(300)
@given(data=st.data())
def test_rewritten_conditions_and_priorities(tally: Tally, data: st.DataObject) -> None:
    tree = copy.deepcopy(DEFAULT)
    places = _conditions(tree)
    for path in data.draw(st.lists(st.sampled_from(places), min_size=1, max_size=3)):
        expr = data.draw(st.one_of(expressions, st.sampled_from(HOSTILE_EXPRESSIONS)))
        if data.draw(st.booleans()):  # and a random edit inside it
            at = data.draw(st.integers(0, len(expr)))
            expr = expr[:at] + data.draw(st.text(max_size=3)) + expr[at:]
        _at(tree, path[:-1])[path[-1]] = expr
    check_loads(_dump(data.draw, tree), tally)


# ------------------------------------------------------------------------------------------
# the text, edited

SNIPPETS = [
    "&a ", "*a", "*nope", "<<: *a\n", "!!python/object/apply:os.system ['true'] ", "!!binary ",
    "!!set ", "!!omap ", "!!timestamp ", "!local ", "\t", "\ufeff", "\x00", "{", "}", "[", "]",
    "'", '"', ": ", "- ", "? ", "%YAML 1.1\n", "%TAG ! tag:x,2026:\n", "---\n", "...\n", "#",
    "|", ">", "|-\n", "\u2028", "\x85", "\r", "\r\n", "~", ".inf", ".nan", "1e999",
    "9" * 5000, "0x" + "f" * 50, "&a [*a]", "{a: &b [*b]}", "\\", "\ud800", "😀", "  ", "\n  - ",
]  # fmt: skip


def _edit(draw: Draw, text: str) -> str:
    lines = text.split("\n")
    kind = draw(
        st.sampled_from(
            ["insert", "insert", "delete", "duplicate", "swap", "indent", "dedent", "number"]
        )
    )
    k = draw(st.integers(0, len(lines) - 1))
    if kind == "insert":
        at = draw(st.integers(0, len(text)))
        piece = draw(st.one_of(st.sampled_from(SNIPPETS), st.text(max_size=8)))
        return text[:at] + piece + text[at:]
    if kind == "delete":
        at = draw(st.integers(0, len(text)))
        return text[:at] + text[at + draw(st.integers(1, 40)) :]
    if kind == "duplicate":
        lines.insert(k, lines[k])
    elif kind == "swap":
        j = draw(st.integers(0, len(lines) - 1))
        lines[k], lines[j] = lines[j], lines[k]
    elif kind == "indent":
        lines[k] = draw(st.sampled_from([" ", "  ", "\t", "    "])) + lines[k]
    elif kind == "dedent":
        lines[k] = lines[k].lstrip()
    else:
        big = draw(st.sampled_from(["9" * 19, "9" * 4300, "-" + "9" * 40, "1e999", "-.inf"]))
        lines[k] = re.sub(r"\b[0-9]+\b", big, lines[k], count=1)
    return "\n".join(lines)


@fuzz(400)
@given(data=st.data())
def test_edited_default_text(tally: Tally, data: st.DataObject) -> None:
    text = DEFAULT_TEXT
    for _ in range(data.draw(st.integers(1, 5))):
        text = _edit(data.draw, text)
    check_loads(text, tally)


# ------------------------------------------------------------------------------------------
# hostile YAML: aliases, nesting, numbers, tags, size


def _laughs(levels: int, width: int) -> str:
    out = ['l0: &l0 ["lol"]']
    for k in range(1, levels):
        out.append(f"l{k}: &l{k} [{', '.join([f'*l{k - 1}'] * width)}]")
    return "\n".join(out)


def _alias_chain(links: int, depth: int) -> str:
    """Anchors each nesting the one before ``depth`` levels deeper: few aliases, deep
    documents once they are expanded."""
    out = [f"a0: &a0 {'[' * depth}1{']' * depth}"]
    for k in range(1, links):
        out.append(f"a{k}: &a{k} {'[' * depth}*a{k - 1}{']' * depth}")
    return "\n".join(out)


def _nested_block(depth: int) -> str:
    return "\n".join(f"{'  ' * k}k{k}:" for k in range(depth)) + " 1"


TAGS = [
    "timestamp",
    "bool",
    "int",
    "float",
    "binary",
    "null",
    "str",
    "set",
    "omap",
    "pairs",
    "merge",
    "value",
    "python/name:os.system",
    "python/object/apply:os.system",
    "local",
]
TAG_VALUES = ["x", "_", "maybe", "", "0x", "0o", "0b", ":", "+", "-", ".", "1_", "1:2",
              "2026-01-01",
              "2026-02-30", "[1]", "{}", "'@@'", "~", ".inf", "1e999"]  # fmt: skip
ODD_DOCUMENTS = [
    "x: &a [*a]", "x: &a {y: *a}", "x: &a\n  y: *a", "&a [*a, *a]", "x: *undefined",
    "? [a, b]\n: 1", "? {a: 1}\n: 1", "x: !!set {a, b}", "x: !!omap [a: 1, a: 2]",
    "x: !!pairs [a: 1]", "x: 1:2:3:4:5", "x: 0b2", "x: 0o9", "x: 0x", "x: +.inf", "x: 1e999",
    "a: 1\na: 2", "---\na: 1\n---\nb: 2", "%YAML 2.0\n---\na: 1", "\ufeffa: 1", "a: \x85",
    "a: 'unterminated", 'a: "\\ud800"', "<<: [*x]", "a: {<<: 1}", "? !!timestamp x\n: 1",
]  # fmt: skip
hostile = st.one_of(
    st.builds(_laughs, st.integers(1, 12), st.integers(1, 10)),
    st.builds(_alias_chain, st.integers(1, 30), st.integers(1, 63)),
    st.builds(_nested_block, st.integers(1, 200)),
    st.integers(1, 300).map(lambda d: "x: " + "[" * d + "]" * d),
    st.integers(1, 300).map(lambda d: "x: " + "{a: " * d + "1" + "}" * d),
    st.sampled_from(ODD_DOCUMENTS),
    st.builds(lambda tag, v: f"x: !!{tag} {v}", st.sampled_from(TAGS),
              st.one_of(st.sampled_from(TAG_VALUES), st.text(max_size=6))),
    st.sampled_from([19, 40, 4299, 4300, 4301, 10_000]).map(lambda n: "x: " + "9" * n),
    st.sampled_from([100, 5000]).map(lambda n: "x: 0x" + "f" * n),
    st.sampled_from([200_000, 262_144, 262_145, 300_000]).map(lambda n: "x: " + "a" * n),
    st.sampled_from([500, 4000]).map(lambda n: "\n".join(f"k{k}: {k}" for k in range(n))),
)  # fmt: skip
SPOTS = ['version: "2026.11"', "capacity: 60", "on_day: 91", 'when: "total_due > 500000"',
         "from: 91", "- {name: standard"]  # fmt: skip


@fuzz(200)
@given(
    doc=hostile,
    where=st.sampled_from(["alone", "appended", "prepended", "value"]),
    spot=st.sampled_from(SPOTS),
)
def test_hostile_yaml(tally: Tally, doc: str, where: str, spot: str) -> None:
    if where == "alone":
        text = doc
    elif where == "appended":
        text = DEFAULT_TEXT + "\n" + doc + "\n"
    elif where == "prepended":
        text = doc + "\n" + DEFAULT_TEXT
    else:  # a value of the strategy becomes the (first line of the) document
        first = doc.split("\n", 1)[0].split(": ", 1)[-1]
        key = spot.split(":")[0]
        text = DEFAULT_TEXT.replace(spot, f"{key}: {first}", 1)
    check_loads(text, tally)


def test_a_date_and_odd_keys_load_or_are_refused(tally: Tally) -> None:
    """Values safe_load builds that are not strings (dates, datetimes, bytes, None keys)."""
    for value in (date(2026, 11, 23), datetime(2026, 11, 23, 1, 2, tzinfo=UTC), b"\x00", None, 1.5):
        tree = copy.deepcopy(DEFAULT)
        tree["version"] = value
        tree["treatments"][value] = {"all": []}
        check_loads(yaml.safe_dump(tree, allow_unicode=True, sort_keys=False), tally)


# the smallest inputs the fuzzers above found breaking the contract, kept as plain tests
FOUND = {
    "alias-chain-nested-deep": _alias_chain(20, 50),  # 20 anchors, 50 brackets each
    "timestamp-tag-not-a-timestamp": "a: !!timestamp x",
    "bool-tag-not-a-bool": "a: !!bool maybe",
    "int-tag-underscore": "a: !!int '_'",
    "float-tag-underscore": "a: !!float '_'",
    "hex-number-of-4335-digits-for-a-string": "strategy: 0x" + "f" * 3600,
}


@pytest.mark.parametrize("case", sorted(FOUND))
def test_inputs_found_by_fuzzing(tally: Tally, case: str) -> None:
    check_loads(FOUND[case], tally)
