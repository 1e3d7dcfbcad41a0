"""The prohibited-language lexicon (zh and en) and the linter built on it.

Text and terms are normalised the same way before matching: Unicode NFKC (full-width letters
and digits become ASCII), lower case, traditional characters to simplified (OpenCC t2s), and
every character that is not a letter or digit removed. So "弄 死 你", "弄·死·你", "ＫＩＬＬ you"
and "還錢否則弄死你" are all caught. The same linter checks templates on load, scripts and
collectors' notes.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import opencc
import yaml

HERE = Path(__file__).parent / "lexicon"
PROHIBITED = (
    "threat",
    "insult",
    "impersonation",
    "fake_blacklist",
    "exaggerated_legal",
    "new_borrowing",
    "third_party_disclosure",
)
#: lookalike characters NFKC keeps apart from the letters they imitate
_LOOKALIKES = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "@": "a", "$": "s"})


_NOT_ALNUM = re.compile(r"[\W_]+")
_PIECES = re.compile(r"[a-z0-9]+|[^\W_]")


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def normalise(text: str, *, lookalikes: bool = False) -> str:
    """The matching form of ``text``: NFKC, lower case, simplified, letters and digits only."""
    s = unicodedata.normalize("NFKC", text).lower()
    if lookalikes:
        s = s.translate(_LOOKALIKES)
    s = _t2s().convert(s)
    return _NOT_ALNUM.sub("", s)  # letters and digits only (\w less "_" is str.isalnum)


def _ascii_word(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def compact(text: str, *, lookalikes: bool = False) -> tuple[str, frozenset[int], frozenset[int]]:
    """The matching form and where its ASCII words start and end.

    "skill you" gives "skillyou" with words starting at 0 and 5, so the English term "kill you"
    (found at 1) is not a word match there; "k.i.l.l y o u" starts a word at every letter.
    """
    s = unicodedata.normalize("NFKC", text).lower()
    if lookalikes:
        s = s.translate(_LOOKALIKES)
    s = _t2s().convert(s)
    out: list[str] = []
    starts: set[int] = set()
    ends: set[int] = set()
    at = 0
    # ASCII words whole, any other letter or digit alone; punctuation, spaces and "_" dropped
    for piece in _PIECES.findall(s):
        if piece[0].isascii():
            starts.add(at)
            ends.add(at + len(piece))
        out.append(piece)
        at += len(piece)
    return "".join(out), frozenset(starts), frozenset(ends)


def _found(term: str, form: tuple[str, frozenset[int], frozenset[int]]) -> bool:
    text, starts, ends = form
    if not term.isascii():
        return term in text
    at = text.find(term)
    while at >= 0:
        if at in starts and at + len(term) in ends:
            return True
        at = text.find(term, at + 1)
    return False


@dataclass(frozen=True)
class Hit:
    category: str
    term: str


@dataclass(frozen=True)
class Lexicon:
    #: (category, normalised term, term as written)
    entries: tuple[tuple[str, str, str], ...]
    #: every normalised term at once, the longest first at each position (a lookahead, so
    #: overlapping terms are all seen), and the terms inside each term
    _any: re.Pattern[str] = field(init=False, repr=False, compare=False)
    _inside: dict[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        norms = sorted({norm for _, norm, _ in self.entries}, key=lambda n: (-len(n), n))
        pattern = "|".join(re.escape(n) for n in norms) or "(?!)"
        object.__setattr__(self, "_any", re.compile(f"(?=({pattern}))"))
        inside = {n: tuple(m for m in norms if m in n) for n in norms}
        object.__setattr__(self, "_inside", inside)

    def _candidates(
        self, forms: tuple[tuple[str, frozenset[int], frozenset[int]], ...]
    ) -> set[str]:
        """The normalised terms that occur in any form (word boundaries not yet checked)."""
        out: set[str] = set()
        for text, _, _ in forms:
            for m in self._any.finditer(text):
                out.update(self._inside[m.group(1)])
        return out

    def scan(self, text: str, categories: tuple[str, ...] = PROHIBITED) -> list[Hit]:
        """Every (category, term) found in ``text``, once each."""
        forms = (compact(text), compact(text, lookalikes=True))
        maybe = self._candidates(forms)
        if not maybe:
            return []
        hits: dict[tuple[str, str], Hit] = {}
        for category, norm, term in self.entries:
            if (
                norm in maybe
                and category in categories
                and any(_found(norm, form) for form in forms)
            ):
                hits.setdefault((category, term), Hit(category, term))
        return list(hits.values())

    def prohibited(self, text: str) -> list[Hit]:
        return self.scan(text, PROHIBITED)

    def reveals_debt(self, text: str) -> list[Hit]:
        return self.scan(text, ("debt_terms",))

    def threatens_suit(self, text: str) -> list[Hit]:
        return self.scan(text, ("suit_threat",))


@lru_cache(maxsize=8)
def load(languages: tuple[str, ...] = ("zh", "en")) -> Lexicon:
    entries: list[tuple[str, str, str]] = []
    for lang in languages:
        data = yaml.safe_load((HERE / f"{lang}.yaml").read_text(encoding="utf-8"))
        for category, terms in data.items():
            for term in terms:
                norm = normalise(str(term))
                if norm:
                    entries.append((category, norm, str(term)))
    return Lexicon(tuple(entries))
