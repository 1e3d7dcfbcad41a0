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
from typing import NamedTuple

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
_LOOKALIKE = re.compile("[" + re.escape("".join(chr(c) for c in _LOOKALIKES)) + "]")


_NOT_ALNUM = re.compile(r"[\W_]+")
_PIECES = re.compile(r"[a-z0-9]+|[^\W_]")


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def fold(text: str, *, lookalikes: bool = False) -> str:
    """NFKC, lower case (look-alike characters read as letters when asked) and simplified: the
    form :func:`normalise` and :func:`compact` start from."""
    s = unicodedata.normalize("NFKC", text).lower()
    if lookalikes:
        s = s.translate(_LOOKALIKES)
    return _simplified(s)


def _simplified(s: str) -> str:
    """``s`` in simplified characters (OpenCC's t2s dictionaries hold no ASCII character: an
    ASCII text is left as it is)."""
    return s if s.isascii() else _t2s().convert(s)


def letters(folded: str) -> str:
    """Letters and digits only (``\\w`` less "_" is str.isalnum)."""
    return _NOT_ALNUM.sub("", folded)


def normalise(text: str, *, lookalikes: bool = False) -> str:
    """The matching form of ``text``: NFKC, lower case, simplified, letters and digits only."""
    return letters(fold(text, lookalikes=lookalikes))


class Reading(NamedTuple):
    """One text read once for every matcher: ``lowered`` (NFKC, lower case), ``folded``
    (:func:`fold`: lowered and simplified) and ``plain`` (:func:`normalise`: folded, letters
    and digits only)."""

    lowered: str
    folded: str
    plain: str

    @classmethod
    def of(cls, text: str) -> Reading:
        normal = unicodedata.is_normalized("NFKC", text)  # quick: most texts are
        lowered = (text if normal else unicodedata.normalize("NFKC", text)).lower()
        folded = _simplified(lowered)
        return cls(lowered, folded, _NOT_ALNUM.sub("", folded))


def _ascii_word(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


Compact = tuple[str, frozenset[int], frozenset[int]]


def compact(text: str, *, lookalikes: bool = False) -> Compact:
    """The matching form and where its ASCII words start and end.

    "skill you" gives "skillyou" with words starting at 0 and 5, so the English term "kill you"
    (found at 1) is not a word match there; "k.i.l.l y o u" starts a word at every letter.
    """
    return _compacted(fold(text, lookalikes=lookalikes))


def _compacted(s: str) -> Compact:
    """:func:`compact` of a text already folded."""
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


def _found(term: str, form: Compact) -> bool:
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
    #: the normalised terms of two characters or more by their first two, and those of one
    _by_start: dict[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)
    _starts: frozenset[str] = field(init=False, repr=False, compare=False)
    _short: tuple[str, ...] = field(init=False, repr=False, compare=False)
    #: the entries (their index) of each normalised term
    _entries_of: dict[str, tuple[int, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        norms = sorted({norm for _, norm, _ in self.entries})
        by_start: dict[str, list[str]] = {}
        for norm in norms:
            if len(norm) > 1:
                by_start.setdefault(norm[:2], []).append(norm)
        object.__setattr__(self, "_by_start", {k: tuple(v) for k, v in by_start.items()})
        object.__setattr__(self, "_starts", frozenset(by_start))
        object.__setattr__(self, "_short", tuple(n for n in norms if len(n) == 1))
        entries_of: dict[str, list[int]] = {}
        for k, (_, norm, _) in enumerate(self.entries):
            entries_of.setdefault(norm, []).append(k)
        object.__setattr__(self, "_entries_of", {k: tuple(v) for k, v in entries_of.items()})

    def _candidates(self, plain: str) -> set[str]:
        """The normalised terms that occur in ``plain`` (word boundaries not yet checked): of
        those that start with a pair of characters it has, those in it."""
        pairs = self._starts.intersection([plain[k : k + 2] for k in range(len(plain) - 1)])
        found = {t for pair in pairs for t in self._by_start[pair] if t in plain}
        found.update(t for t in self._short if t in plain)
        return found

    def scan(
        self,
        text: str,
        categories: tuple[str, ...] = PROHIBITED,
        *,
        reading: Reading | None = None,
    ) -> list[Hit]:
        """Every (category, term) found in ``text``, once each (in the lexicon's order);
        ``reading``, the text's :class:`Reading` when the caller has it."""
        r = Reading.of(text) if reading is None else reading
        # fold(text, lookalikes=True) is the folded form with its look-alikes read: t2s, which
        # knows no ASCII character, leaves them as they are
        look = r.folded.translate(_LOOKALIKES) if _LOOKALIKE.search(r.folded) else r.folded
        plain = r.plain if look is r.folded else f"{r.plain}\n{letters(look)}"
        maybe = sorted(
            k
            for norm in self._candidates(plain)
            for k in self._entries_of[norm]
            if self.entries[k][0] in categories
        )
        if not maybe:
            return []
        forms = [_compacted(r.folded)] + ([] if look is r.folded else [_compacted(look)])
        hits: dict[tuple[str, str], Hit] = {}
        for k in maybe:
            category, norm, term = self.entries[k]
            if any(_found(norm, form) for form in forms):
                hits.setdefault((category, term), Hit(category, term))
        return list(hits.values())

    def prohibited(self, text: str, *, reading: Reading | None = None) -> list[Hit]:
        return self.scan(text, PROHIBITED, reading=reading)

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
