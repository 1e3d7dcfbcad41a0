"""The conduct screen: what a person writes or says to a borrower, judged in layers.

1. **Normalisation**: evasions undone (full-width letters, spacing and symbols between
   characters, traditional characters, look-alike digits, letters spelt out one by one; pinyin
   read alike with the characters it stands for).
2. **The classifier** (:mod:`.classifier`): character n-grams of the written and the pinyin
   form, a linear model trained on the corpus of paraphrase families. It decides: a text is
   flagged when its risk reaches the threshold chosen by grouped cross-validation.
3. **Patterns** (:mod:`.patterns`: who does what to whom) and the lexicon's **phrases** say
   where and why: each finding of a flagged text carries its category, the span of the text as
   written and a reason in zh-CN and en. Where neither matches the classifier's category, the
   finding is the clause that scores highest for it.

Patterns and phrases do not flag a text on their own: measured by grouped cross-validation on
the corpus, letting them do so (or letting them flag above a lower risk) caught under 1 % more
and cost 1 to 7 points of precision, because lawful text names the same things (a scam warning
names the police; "we will not contact your family" names the family). docs/COMPLIANCE.md has
the figures."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from arrears.compliance.conduct import CATEGORIES
from arrears.compliance.conduct.classifier import Classifier, Verdict
from arrears.compliance.conduct.patterns import Form, Patterns, form
from arrears.compliance.conduct.patterns import load as patterns
from arrears.compliance.lint import Hit, Lexicon, Reading, normalise
from arrears.compliance.lint import load as lexicon

#: each category's name, in en and zh-CN
NAMES: dict[str, tuple[str, str]] = {
    "threat": ("threat of harm", "威胁恐吓"),
    "third_party": ("disclosure to or contact of a third party", "向第三方披露或联系第三方"),
    "exposure": ("public exposure or shaming", "曝光羞辱"),
    "impersonation": ("impersonating authority or false criminal claims", "冒充公检法或虚构刑责"),
    "false_consequence": ("false consequences", "虚构不实后果"),
    "insult": ("insult or humiliation", "侮辱谩骂"),
    "new_borrowing": ("pushing new borrowing", "诱导借新还旧"),
    "harassment": ("harassment", "骚扰"),
}
#: the lexicon's categories as the screen names them
_LEXICON_CATEGORY = {
    "threat": "threat",
    "insult": "insult",
    "impersonation": "impersonation",
    "fake_blacklist": "false_consequence",
    "exaggerated_legal": "impersonation",
    "new_borrowing": "new_borrowing",
    "third_party_disclosure": "third_party",
    "exposure": "exposure",
    "harassment": "harassment",
    "false_consequence": "false_consequence",
    "third_party": "third_party",
}
#: a phrase's or pattern's category explains a flagged text when the classifier scores it at
#: least this share of its top category's score
RELEVANT = 0.5
_CLAUSE = re.compile(r"[^。！？!?；;，,\n.…]+")
#: a sentence: up to 。！？!?；; a line end, or a full stop before a space (not 1,234.00)
_SENTENCE = re.compile(r"(?:[^。！？!?；;\n.]|\.(?!\s|$))+")
#: a character of a sentence and one that ends a sentence (as _SENTENCE splits); a character of
#: a clause with words (not a space) and one between clauses (as _CLAUSE splits)
_IN_SENTENCE = re.compile(r"[^。！？!?；;\n.]|\.(?!\s|$)")
_ENDS_SENTENCE = re.compile(r"[。！？!?；;\n]|\.(?=\s|$)")
_WORD = re.compile(r"[^\s。！？!?；;，,\n.…]")
_ENDS_CLAUSE = re.compile(r"[。！？!?；;，,\n.…]")
#: the risk at which one sentence of a longer text, marked by a phrase or a pattern, flags it
#: (by grouped cross-validation on the corpus: precision as for whole texts)
SENTENCE_THRESHOLD = 0.8
#: the same for one clause (between commas) of a longer sentence (precision 0.952, as for
#: whole texts; recall 0.959 against 0.958)
CLAUSE_THRESHOLD = 0.9


@dataclass(frozen=True)
class Finding:
    """One reason a text is flagged: its category, where (``start``, ``end`` in the text as
    written, and the ``words`` there), which layer found it (``source``: ``phrase``,
    ``pattern:<id>`` or ``model``) and why, in en and zh-CN."""

    category: str
    start: int
    end: int
    words: str
    source: str
    reason_en: str
    reason_zh: str
    why: tuple[str, str] | None = None

    def reason(self, lang: str) -> str:
        return self.reason_zh if lang.startswith("zh") else self.reason_en

    def as_dict(self) -> dict[str, object]:
        return {
            "category": self.category,
            "start": self.start,
            "end": self.end,
            "words": self.words,
            "source": self.source,
            "reason_en": self.reason_en,
            "reason_zh": self.reason_zh,
        }


@dataclass(frozen=True)
class Decision:
    """The screen's answer for one text: ``findings`` (empty when allowed) and the
    classifier's ``risk``."""

    text: str
    risk: float
    findings: tuple[Finding, ...] = field(default=())

    @property
    def flagged(self) -> bool:
        return bool(self.findings)

    @property
    def category(self) -> str | None:
        return self.findings[0].category if self.findings else None

    def summary(self, lang: str = "en") -> str:
        """The findings in one line: "threat of harm: 「弄死你」; ..." (or zh-CN)."""
        return "; ".join(f.reason(lang) for f in self.findings)


def _finding(
    category: str,
    start: int,
    end: int,
    text: str,
    source: str,
    why: tuple[str, str] | None = None,
) -> Finding:
    """A finding on ``text[start:end]``, its reason naming the category (and the rule's own
    words, ``why``, in en and zh-CN) and quoting the words."""
    words = text[start:end]
    en, zh = NAMES[category]
    quoted = words.strip()
    return Finding(
        category,
        start,
        end,
        words,
        source,
        f"{en}{f' ({why[0]})' if why else ''}: “{quoted}”",
        f"{zh}{f'（{why[1]}）' if why else ''}：「{quoted}」",
        why,
    )


class _Read:
    """A text read once for every layer (:class:`.lint.Reading`: what the lexicon, the
    classifier's written form and the patterns' form all start from), and the patterns' form
    when first asked."""

    __slots__ = ("_form", "reading", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.reading = Reading.of(text)
        self._form: Form | None = None

    @property
    def form(self) -> Form:
        if self._form is None:
            self._form = form(self.text, self.reading)
        return self._form


@dataclass(frozen=True)
class Screen:
    """The layers together; ``classifier`` is given so that measurement can train it on part
    of the corpus."""

    classifier: Classifier
    phrases: Lexicon
    patterns: Patterns

    def check(self, text: str) -> Decision:
        if not any(c.isalpha() for c in text):
            # no word in any script (blank, digits, a stray "0."): nothing to judge, and a model
            # asked about it answers by chance
            return Decision(text, 0.0)
        read = _Read(text)
        verdict = self._verdict(read)
        hits = self.phrases.prohibited(text, reading=read.reading)
        if verdict.category is not None:
            return Decision(text, verdict.risk, self._explain(read, verdict, hits))
        phrases = self._phrases(read, hits)
        if phrases:  # an exact phrase, neither negated nor quoted, needs no model's word
            return Decision(text, verdict.risk, tuple(_unique(phrases)))
        if not (_has_parts(text) and (hits or self.patterns.matches(text, read.form))):
            # one clause (nothing to look at apart), or nothing marks any sentence of it
            return Decision(text, verdict.risk)
        return self._by_sentence(text, verdict.risk, _parts(text))

    def _verdict(self, read: _Read) -> Verdict:
        return self.classifier.verdict(read.text, read.reading.plain)

    def _by_sentence(self, text: str, risk: float, parts: list[_Part]) -> Decision:
        """A long text the classifier lets through as a whole (lawful sentences dilute one bad
        one) is flagged by a sentence or clause (``parts``) that a phrase or pattern marks and
        that the classifier, reading it alone, flags at :data:`SENTENCE_THRESHOLD` (a
        sentence) or :data:`CLAUSE_THRESHOLD` (a clause) or above."""
        for offset, part, threshold in parts:
            if not part.strip() or part.strip() == text.strip():
                continue
            read = _Read(part)
            if not (
                self.phrases.prohibited(part, reading=read.reading)
                or self.patterns.matches(part, read.form)
            ):
                continue
            v = self._verdict(read)
            if v.category is None or v.risk < threshold:
                continue
            shifted = tuple(
                _finding(f.category, f.start + offset, f.end + offset, text, f.source, f.why)
                for f in self._explain(read, v)
            )
            return Decision(text, v.risk, shifted)
        return Decision(text, risk)

    def explain(
        self, text: str, verdict: Verdict, hits: list[Hit] | None = None
    ) -> tuple[Finding, ...]:
        """Where and why ``text`` is flagged. The lexicon's phrases first (curated, their
        category trusted), then the patterns whose category the classifier finds likely (the
        one it scores highest first); when neither is found, the clause that scores highest for
        the classifier's category."""
        return self._explain(_Read(text), verdict, hits)

    def _explain(
        self, read: _Read, verdict: Verdict, hits: list[Hit] | None = None
    ) -> tuple[Finding, ...]:
        text = read.text
        phrases = self._phrases(read, hits)
        # a pattern of a category the classifier thinks unlikely is not a reason (nor looked for)
        top = verdict.score(verdict.category or "")
        likely = {c for c in CATEGORIES if verdict.score(c) >= RELEVANT * top}
        found = [
            _finding(
                m.rule.category,
                m.start,
                m.end,
                text,
                f"pattern:{m.rule.id}",
                (m.rule.en, m.rule.zh),
            )
            for m in self.patterns.matches(text, read.form, likely)
        ]
        if not phrases and not found:
            return (self._model_finding(text, verdict),)
        lead = (
            phrases[0].category if phrases else max({f.category for f in found}, key=verdict.score)
        )
        ranked = sorted(phrases + found, key=lambda f: (f.category != lead, f.start, -f.end))
        return tuple(_unique(ranked))

    def _phrases(self, read: _Read, hits: list[Hit] | None = None) -> list[Finding]:
        """The lexicon's phrases in the text, less those negated just before ("不会联系") and
        all of them when the text warns of or reports someone else's words."""
        text = read.text
        hits = self.phrases.prohibited(text, reading=read.reading) if hits is None else hits
        if not hits:
            return []
        f = read.form
        if self.patterns.quoted(f):
            return []
        kept = [k for k, c in enumerate(f.text) if c != " "]
        flat = f.text.replace(" ", "")
        out = []
        for hit in hits:
            at = _locate(kept, flat, hit.term)
            if at is None:
                start, end = 0, len(text)
            elif self.patterns.negated(f.text, at[0]):
                continue
            else:
                start, end = f.span(*at)
            out.append(_finding(_LEXICON_CATEGORY[hit.category], start, end, text, "phrase"))
        return out

    def _model_finding(self, text: str, verdict: Verdict) -> Finding:
        """The clause that scores highest for the verdict's category (the whole text when it
        is one clause)."""
        category = verdict.category
        assert category is not None
        clauses = [(m.start(), m.end()) for m in _CLAUSE.finditer(text) if m.group().strip()]
        start, end = (0, len(text))
        if len(clauses) > 1:
            scores = self.classifier.scores([text[s:e] for s, e in clauses], category)
            start, end = clauses[max(range(len(clauses)), key=scores.__getitem__)]
        while start < end and text[start].isspace():
            start += 1
        risk = f"{verdict.risk:.2f}"
        return _finding(category, start, end, text, "model", (f"risk {risk}", f"模型风险 {risk}"))

    def checks(self, texts: Sequence[str]) -> list[Decision]:
        return [self.check(t) for t in texts]


#: a sentence or clause of a text: where it starts, its words, the risk at which it flags
_Part = tuple[int, str, float]


def _parts(text: str) -> list[_Part]:
    """The sentences of ``text`` (when it has two or more) and the clauses of each sentence
    that has two or more (of the text, when it has one sentence and two or more clauses)."""
    parts = [(m.start(), m.group(), SENTENCE_THRESHOLD) for m in _SENTENCE.finditer(text)]
    if len(parts) < 2:
        parts = []
    for start, sentence, _ in list(parts):
        clauses = [m for m in _CLAUSE.finditer(sentence) if m.group().strip()]
        if len(clauses) > 1 or not parts:
            parts += [(start + m.start(), m.group(), CLAUSE_THRESHOLD) for m in clauses]
    if not parts and len(found := [m for m in _CLAUSE.finditer(text) if m.group().strip()]) > 1:
        parts = [(m.start(), m.group(), CLAUSE_THRESHOLD) for m in found]
    return parts


def _has_parts(text: str) -> bool:
    """Has ``text`` :func:`_parts`? Two sentences (a sentence's character, then something that
    ends a sentence, then another sentence's) or two clauses with words (likewise)."""
    return _apart(text, _IN_SENTENCE, _ENDS_SENTENCE) or _apart(text, _WORD, _ENDS_CLAUSE)


def _apart(text: str, inside: re.Pattern[str], between: re.Pattern[str]) -> bool:
    """Is there a character ``inside`` a part, then one ``between`` parts, then another inside
    (three scans, each from where the last stopped)?"""
    first = inside.search(text)
    end = first and between.search(text, first.end())
    return bool(end and inside.search(text, end.end()))


def _unique(findings: Sequence[Finding]) -> list[Finding]:
    """``findings`` less repeats and those inside another of the same category."""
    out: list[Finding] = []
    for f in findings:
        inside = any(
            g.category == f.category and g.start <= f.start and f.end <= g.end
            for g in findings
            if g is not f and (g.start, g.end) != (f.start, f.end)
        )
        repeat = any((g.category, g.start, g.end) == (f.category, f.start, f.end) for g in out)
        if not (inside or repeat):
            out.append(f)
    return out


def _locate(kept: list[int], flat: str, term: str) -> tuple[int, int] | None:
    """Where a lexicon term (matched after normalisation, spaces and all dropped) is in the
    pattern form: [start, end) there, or None. ``flat``: the form less its spaces, ``kept``:
    where each of its characters is in the form."""
    needle = _normalised(term)
    at = flat.find(needle)
    if at < 0 or not needle:
        return None
    return kept[at], kept[at + len(needle) - 1] + 1


@lru_cache(maxsize=4096)
def _normalised(term: str) -> str:
    """A lexicon term normalised (the lexicon's terms are few: each is normalised once)."""
    return normalise(term)


def screen_with(classifier: Classifier) -> Screen:
    return Screen(classifier, lexicon(), patterns())


@lru_cache(maxsize=1)
def default() -> Screen:
    """The screen with the classifier trained on the shipped corpus."""
    from arrears.compliance.conduct.classifier import default as trained

    return screen_with(trained())


@lru_cache(maxsize=4096)
def check(text: str) -> Decision:
    """The shipped screen's decision on ``text`` (the gate asks again for the same text while
    it looks for the earliest allowed instant: the answer is kept)."""
    return default().check(text)


Measured = Callable[[Sequence[str]], list[str | None]]


def measured(screen: Screen) -> Measured:
    """The screen as :mod:`.measure` takes it: the category each text is flagged for."""
    return lambda texts: [d.category for d in screen.checks(texts)]
