"""The conduct screen's category patterns (``patterns.yaml``): who does what to whom, matched
over a form of the text in which evasions are undone, with every character of the form mapped
back to the text as written (so a finding names the span the writer wrote).

The form: NFKC per character (full-width letters become ASCII), lower case, traditional to
simplified Chinese, look-alike digits and symbols inside ASCII words read as letters ("k1ds",
"1@wn"), letters spelt out one at a time joined ("a r r e s t"), anything that is not a letter or
digit dropped between Chinese characters ("弄 死 你", "弄·死·你") and one space elsewhere."""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Container, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import yaml

from arrears.compliance.conduct import CATEGORIES
from arrears.compliance.lint import Reading, _t2s

HERE = Path(__file__).parent / "patterns.yaml"
#: look-alike characters read as the letter they imitate when inside an ASCII word
_LOOKALIKES = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "@": "a", "$": "s", "|": "l"}


class Form:
    """The matching form of a text (``text``) and, for each of its characters, where it came
    from (``origin``, worked out when first asked: most texts never need it)."""

    def __init__(self, text: str, chars: str, where: Sequence[int]) -> None:
        self.text = text
        #: the characters the form was joined from, and the origin of each
        self._chars = chars
        self._where = where

    @cached_property
    def origin(self) -> tuple[int, ...]:
        out: list[int] = []
        last = ""
        for m in _ALNUM_RUN.finditer(self._chars):
            start, end = m.span()
            if out and not (_cjk(last) and _cjk(self._chars[start])):
                out.append(self._where[start])  # the space before the run
            out.extend(self._where[start:end])
            last = self._chars[end - 1]
        return tuple(out)

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The span of the original text that the form's [start, end) came from."""
        if start >= end or not self.origin:
            return 0, 0
        return self.origin[start], self.origin[end - 1] + 1


#: three single letters in a row with something that is not a letter or digit between them
_SPELT = re.compile(r"(?<![^\W_])[a-z][\W_]+[a-z][\W_]+[a-z](?![^\W_])", re.ASCII)


#: a look-alike character; a run of letters and digits (``\w`` less "_" is str.isalnum) and
#: a run of anything else; such a run between two Chinese characters
_LOOKALIKE = re.compile("[" + re.escape("".join(_LOOKALIKES)) + "]")
_ALNUM_RUN = re.compile(r"[^\W_]+")
_GAP = re.compile(r"[\W_]+")
_CJK = "\u3400-\u9fff\uf900-\ufaff"
_CJK_GAP = re.compile(f"(?<=[^\\W_])(?<=[{_CJK}])[\\W_]+(?=[{_CJK}])")


def _cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"


def _chars(text: str, reading: Reading | None = None) -> tuple[str, Sequence[int]]:
    """NFKC, lower case and simplified, character by character, with each one's origin;
    ``reading``, the text's :class:`arrears.compliance.lint.Reading` when the caller has it."""
    r = Reading.of(text) if reading is None else reading
    origin: Sequence[int]
    if len(r.lowered) == len(text) and not _resized().search(text):
        # character for character (the common case): no need to normalise one by one
        chars, origin, simple = r.lowered, range(len(text)), r.folded
    else:
        pieces = [unicodedata.normalize("NFKC", ch).lower() for ch in text]
        chars = "".join(pieces)
        origin = [i for i, piece in enumerate(pieces) for _ in piece]
        simple = _t2s().convert(chars) if chars else chars
    if len(simple) == len(chars):  # OpenCC's t2s is character for character here
        chars = simple
    return chars, origin


@lru_cache(maxsize=1)
def _resized() -> re.Pattern[str]:
    """A character NFKC changes into more or fewer than one ("ﬁ", "㍿"): found once, over
    every code point (a tenth of a second)."""
    found = [
        c
        for c in range(0x80, sys.maxunicode + 1)
        if not unicodedata.is_normalized("NFKC", chr(c))
        and len(unicodedata.normalize("NFKC", chr(c))) != 1
    ]
    ranges: list[list[int]] = []
    for c in found:
        if ranges and ranges[-1][1] == c - 1:
            ranges[-1][1] = c
        else:
            ranges.append([c, c])
    spans = "".join(f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in ranges)
    return re.compile(f"[{spans}]" if spans else "(?!)")


def _word_char(c: str) -> bool:
    return bool(c) and c.isascii() and (c.isalpha() or c in _LOOKALIKES)


def _unspell(chars: str, origin: Sequence[int]) -> tuple[str, Sequence[int]]:
    """Join letters spelt out one at a time ("a r r e s t", "k.i.l.l"): runs of 3 or more."""
    if not _SPELT.search(chars):
        return chars, origin
    keep: list[int] = []
    k = 0
    n = len(chars)
    while k < n:
        run = [k]
        j = k
        while (
            _single_letter(chars, j)
            and j + 2 < n
            and not chars[j + 1].isalnum()
            and _single_letter(chars, j + 2)
        ):
            j += 2
            run.append(j)
        if len(run) >= 3:
            keep.extend(run)
            k = j + 1
        else:
            keep.append(k)
            k += 1
    return "".join(chars[m] for m in keep), [origin[m] for m in keep]


def _single_letter(chars: str, k: int) -> bool:
    c = chars[k]
    return (
        c.isascii()
        and c.isalpha()
        and not (k > 0 and chars[k - 1].isalnum())
        and not (k + 1 < len(chars) and chars[k + 1].isalnum())
    )


def _read_lookalikes(chars: str) -> str:
    """Look-alike characters next to an ASCII letter or look-alike, with a letter beside them,
    read as the letters they imitate ("k1ds", "1@wn")."""
    at = [m.start() for m in _LOOKALIKE.finditer(chars)]
    if not at:
        return chars
    out = list(chars)
    for k in at:
        before = chars[k - 1] if k else ""
        after = chars[k + 1] if k + 1 < len(chars) else ""
        if (_word_char(before) or _word_char(after)) and (before.isalpha() or after.isalpha()):
            out[k] = _LOOKALIKES[chars[k]]
    return "".join(out)


def form(text: str, reading: Reading | None = None) -> Form:
    """The matching form of ``text``: its runs of letters and digits, one space between two
    unless both sides are Chinese; ``reading``, the text's
    :class:`arrears.compliance.lint.Reading` when the caller has it."""
    chars, where = _unspell(*_chars(text, reading))
    chars = _read_lookalikes(chars)
    # a gap between two Chinese characters goes, any other is one space, none at either end
    # (where _CJK_GAP takes only the front of a gap, at an unassigned code point of the
    # Chinese blocks, the rest is still one space: just what it is when the gap stays whole)
    return Form(_GAP.sub(" ", _CJK_GAP.sub("", chars)).strip(" "), chars, where)


@dataclass(frozen=True)
class Rule:
    category: str
    id: str
    en: str
    zh: str
    regex: re.Pattern[str]


@dataclass(frozen=True)
class Match:
    """A rule that fired: where in the text as written, and the words there."""

    rule: Rule
    start: int
    end: int
    words: str


def _ascii_letter(text: str, k: int) -> bool:
    return 0 <= k < len(text) and text[k].isascii() and text[k].isalnum()


def search(regex: re.Pattern[str], text: str, pos: int = 0) -> re.Match[str] | None:
    """The first match of ``regex`` at or after ``pos`` that does not start or end inside an
    English word ("son" is not found in "person", "not" not in "another")."""
    while pos <= len(text):
        m = regex.search(text, pos)
        if m is None:
            return None
        s, e = m.start(), m.end()
        inside = (_ascii_letter(text, s) and _ascii_letter(text, s - 1)) or (
            _ascii_letter(text, e - 1) and _ascii_letter(text, e)
        )
        if not inside and e > s:
            return m
        pos = s + 1
    return None


@dataclass(frozen=True)
class Patterns:
    rules: tuple[Rule, ...]
    negation_zh: re.Pattern[str]
    negation_en: re.Pattern[str]
    caution: re.Pattern[str]
    reported: re.Pattern[str]

    def quoted(self, f: Form) -> bool:
        """Does the text warn of others' misconduct or report what someone else said?"""
        return bool(search(self.caution, f.text) or search(self.reported, f.text))

    def negated(self, text: str, start: int) -> bool:
        """Does a negation end just before ``start`` ("不会联系", "will not call")?"""
        zh = text[max(0, start - 6) : start]
        en = text[max(0, start - 24) : start]
        return bool(search(self.negation_zh, zh) or search(self.negation_en, en))

    def matches(
        self, text: str, at: Form | None = None, categories: Container[str] | None = None
    ) -> list[Match]:
        """Every rule that fires on ``text`` (the first match of each), negated ones left out;
        only the rules of ``categories`` when given."""
        f = at or form(text)
        if self.quoted(f):
            return []
        out: list[Match] = []
        for rule in self.rules:
            if categories is not None and rule.category not in categories:
                continue
            if rule.regex.search(f.text) is None:  # most rules: not anywhere
                continue
            pos = 0
            while (m := search(rule.regex, f.text, pos)) is not None:
                if not self.negated(f.text, m.start()):
                    start, end = f.span(m.start(), m.end())
                    out.append(Match(rule, start, end, text[start:end]))
                    break
                pos = m.start() + 1
        return out


def _expand(pattern: str, terms: dict[str, str]) -> str:
    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in terms:
            raise ValueError(f"{HERE.name}: no term set named {name!r}")
        return f"(?:{terms[name]})"

    return re.sub(r"\{([a-z_]+)\}", sub, pattern)


@lru_cache(maxsize=1)
def load() -> Patterns:
    data = yaml.safe_load(HERE.read_text(encoding="utf-8"))
    terms: dict[str, str] = {k: str(v) for k, v in data["terms"].items()}
    rules: list[Rule] = []
    for category, items in data["rules"].items():
        if category not in CATEGORIES:
            raise ValueError(f"{HERE.name}: rules: {category!r} is not a category")
        for item in items:
            where = f"{HERE.name}: rules: {category}: {item.get('id')!r}"
            try:
                regex = re.compile(_expand(str(item["pattern"]), terms))
            except (KeyError, re.error) as exc:
                raise ValueError(f"{where}: pattern: {exc}") from exc
            rules.append(Rule(category, str(item["id"]), str(item["en"]), str(item["zh"]), regex))
    return Patterns(
        tuple(rules),
        re.compile(f"(?:{terms['neg_zh']})[^就则否]{{0,2}}$"),
        re.compile(f"(?:{terms['neg_en']}) .{{0,14}}$"),
        re.compile(f"(?:{terms['caution']})"),
        re.compile(f"(?:{terms['reported']})"),
    )
