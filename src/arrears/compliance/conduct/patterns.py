"""The conduct screen's category patterns (``patterns.yaml``): who does what to whom, matched
over a form of the text in which evasions are undone, with every character of the form mapped
back to the text as written (so a finding names the span the writer wrote).

The form: NFKC per character (full-width letters become ASCII), lower case, traditional to
simplified Chinese, look-alike digits and symbols inside ASCII words read as letters ("k1ds",
"1@wn"), letters spelt out one at a time joined ("a r r e s t"), anything that is not a letter or
digit dropped between Chinese characters ("弄 死 你", "弄·死·你") and one space elsewhere."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from arrears.compliance.conduct import CATEGORIES
from arrears.compliance.lint import _t2s

HERE = Path(__file__).parent / "patterns.yaml"
#: look-alike characters read as the letter they imitate when inside an ASCII word
_LOOKALIKES = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "@": "a", "$": "s", "|": "l"}


@dataclass(frozen=True)
class Form:
    """The matching form of a text and, for each of its characters, where it came from."""

    text: str
    origin: tuple[int, ...]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The span of the original text that the form's [start, end) came from."""
        if start >= end or not self.origin:
            return 0, 0
        return self.origin[start], self.origin[end - 1] + 1


#: three single letters in a row with something that is not a letter or digit between them
_SPELT = re.compile(r"(?<![^\W_])[a-z][\W_]+[a-z][\W_]+[a-z](?![^\W_])", re.ASCII)


def _cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"


def _chars(text: str) -> list[tuple[str, int]]:
    """NFKC, lower case and simplified, character by character, with each one's origin."""
    whole = unicodedata.normalize("NFKC", text).lower()
    if len(whole) == len(text) and all(
        unicodedata.is_normalized("NFKC", ch) or len(unicodedata.normalize("NFKC", ch)) == 1
        for ch in text
        if not ch.isascii()
    ):  # character for character (the common case): no need to normalise one by one
        out = [(c, i) for i, c in enumerate(whole)]
    else:
        out = [
            (c, i) for i, ch in enumerate(text) for c in unicodedata.normalize("NFKC", ch).lower()
        ]
    if not out:
        return out
    simple = _t2s().convert("".join(c for c, _ in out))
    if len(simple) == len(out):  # OpenCC's t2s is character for character here
        out = [(s, i) for s, (_, i) in zip(simple, out, strict=True)]
    return out


def _word_char(chars: list[tuple[str, int]], k: int) -> bool:
    c = chars[k][0] if 0 <= k < len(chars) else ""
    return bool(c) and c.isascii() and (c.isalpha() or c in _LOOKALIKES)


def _unspell(chars: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """Join letters spelt out one at a time ("a r r e s t", "k.i.l.l"): runs of 3 or more."""
    if not _SPELT.search("".join(c for c, _ in chars)):
        return chars
    out: list[tuple[str, int]] = []
    k = 0
    n = len(chars)
    while k < n:
        run = [k]
        j = k
        while (
            _single_letter(chars, j)
            and j + 2 < n
            and not chars[j + 1][0].isalnum()
            and _single_letter(chars, j + 2)
        ):
            j += 2
            run.append(j)
        if len(run) >= 3:
            out.extend(chars[m] for m in run)
            k = j + 1
        else:
            out.append(chars[k])
            k += 1
    return out


def _single_letter(chars: list[tuple[str, int]], k: int) -> bool:
    c = chars[k][0]
    return (
        c.isascii()
        and c.isalpha()
        and not (k > 0 and chars[k - 1][0].isalnum())
        and not (k + 1 < len(chars) and chars[k + 1][0].isalnum())
    )


@lru_cache(maxsize=1024)
def form(text: str) -> Form:
    chars = _unspell(_chars(text))
    kept: list[tuple[str, int]] = []
    gap = False
    for k, (c, i) in enumerate(chars):
        if c in _LOOKALIKES and (_word_char(chars, k - 1) or _word_char(chars, k + 1)):
            neighbours = (chars[k - 1][0] if k else "") + (
                chars[k + 1][0] if k + 1 < len(chars) else ""
            )
            if any(x.isalpha() for x in neighbours):
                c = _LOOKALIKES[c]
        if not c.isalnum():
            gap = True
            continue
        if gap and kept and not (_cjk(kept[-1][0]) and _cjk(c)):
            kept.append((" ", i))
        gap = False
        kept.append((c, i))
    return Form("".join(c for c, _ in kept), tuple(i for _, i in kept))


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

    def matches(self, text: str, at: Form | None = None) -> list[Match]:
        """Every rule that fires on ``text`` (the first match of each), negated ones left out."""
        f = at or form(text)
        if self.quoted(f):
            return []
        out: list[Match] = []
        for rule in self.rules:
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
