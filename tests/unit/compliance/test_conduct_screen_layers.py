"""The conduct screen's layers, made fast, compute what they did when written plainly: the
pattern form character by character, the lexicon's scan by one regular expression of every
term, the classifier's n-grams by slicing strings and counting them, the pinyin reading one
character at a time. Each plain version is kept here as the reference; random texts made of
the characters that take the odd paths (full-width, traditional, look-alikes, ligatures,
letters spelt out, combining marks, the Chinese blocks' gaps) must give the same answers."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arrears.compliance import lint
from arrears.compliance.conduct import classifier, grams, patterns
from arrears.compliance.conduct.classifier import Scorer, default, spoken, written
from arrears.compliance.conduct.corpus import read
from arrears.compliance.conduct.screen import _has_parts, _parts, screen_with

#: characters that take every path of the forms
ODD = (
    "aeiklorsty xyz AKR 0134 5@$| .,;:!?·*-_/~'\n\t"
    "你您好还钱弄死警察家人公司朋友不会联系曝光贷款借"
    "還錢為們單位聯繫髮乾隆"
    "，。！？；：、（）【】“”…—　"
    "ＡＢＣｋｉｌｌ０１２"
    "ﬁ㍿①Ⅻßİ\u0301\u200b\u00a0ｶﾞ😀豈\ufa6e\ufada\u9fff\u3400"
)
CORPUS = [x.text for x in read()]
odd_texts = st.text(alphabet=ODD, max_size=40)
texts = st.one_of(
    odd_texts,
    st.sampled_from(CORPUS),
    st.tuples(st.sampled_from(CORPUS), odd_texts, st.integers(0, 200)).map(
        lambda t: t[0][: t[2]] + t[1] + t[0][t[2] :]
    ),
)


# the pattern form, character by character (as first written)


def _reference_chars(text: str) -> list[tuple[str, int]]:
    whole = unicodedata.normalize("NFKC", text).lower()
    if len(whole) == len(text) and all(
        unicodedata.is_normalized("NFKC", ch) or len(unicodedata.normalize("NFKC", ch)) == 1
        for ch in text
        if not ch.isascii()
    ):
        out = [(c, i) for i, c in enumerate(whole)]
    else:
        out = [
            (c, i) for i, ch in enumerate(text) for c in unicodedata.normalize("NFKC", ch).lower()
        ]
    if not out:
        return out
    simple = lint._t2s().convert("".join(c for c, _ in out))
    if len(simple) == len(out):
        out = [(s, i) for s, (_, i) in zip(simple, out, strict=True)]
    return out


def _reference_single(chars: list[tuple[str, int]], k: int) -> bool:
    c = chars[k][0]
    return (
        c.isascii()
        and c.isalpha()
        and not (k > 0 and chars[k - 1][0].isalnum())
        and not (k + 1 < len(chars) and chars[k + 1][0].isalnum())
    )


def _reference_unspell(chars: list[tuple[str, int]]) -> list[tuple[str, int]]:
    if not patterns._SPELT.search("".join(c for c, _ in chars)):
        return chars
    out: list[tuple[str, int]] = []
    k, n = 0, len(chars)
    while k < n:
        run, j = [k], k
        while (
            _reference_single(chars, j)
            and j + 2 < n
            and not chars[j + 1][0].isalnum()
            and _reference_single(chars, j + 2)
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


def _reference_form(text: str) -> tuple[str, tuple[int, ...]]:
    looks = patterns._LOOKALIKES

    def word(k: int) -> bool:
        c = chars[k][0] if 0 <= k < len(chars) else ""
        return bool(c) and c.isascii() and (c.isalpha() or c in looks)

    chars = _reference_unspell(_reference_chars(text))
    kept: list[tuple[str, int]] = []
    gap = False
    for k, (c, i) in enumerate(chars):
        if c in looks and (word(k - 1) or word(k + 1)):
            near = (chars[k - 1][0] if k else "") + (chars[k + 1][0] if k + 1 < len(chars) else "")
            if any(x.isalpha() for x in near):
                c = looks[c]
        if not c.isalnum():
            gap = True
            continue
        if gap and kept and not (patterns._cjk(kept[-1][0]) and patterns._cjk(c)):
            kept.append((" ", i))
        gap = False
        kept.append((c, i))
    return "".join(c for c, _ in kept), tuple(i for _, i in kept)


@settings(max_examples=400, deadline=None)
@given(texts)
def test_the_pattern_form_is_the_character_by_character_one(text: str) -> None:
    f = patterns.form(text)
    assert (f.text, f.origin) == _reference_form(text)
    assert patterns.form(text, lint.Reading.of(text)).text == f.text


def test_the_pattern_form_of_the_odd_cases() -> None:
    odd = [
        "弄 死 你",
        "k1ds",
        "1@wn",
        "a r r e s t",
        "ｋｉｌｌ you",
        "ﬁne ㍿",
        "你,\ufa6e,a",
        "15号",
    ]
    odd.append("ﬁne\u0301 弄死")  # as long as NFKC makes it, yet not character for character
    for text in odd:
        f = patterns.form(text)
        assert (f.text, f.origin) == _reference_form(text), text


# the lexicon's scan, one regular expression of every term over both compact forms


def _reference_compact(text: str, lookalikes: bool) -> lint.Compact:
    s = unicodedata.normalize("NFKC", text).lower()
    if lookalikes:
        s = s.translate(lint._LOOKALIKES)
    s = lint._t2s().convert(s)
    out, starts, ends, at = [], set(), set(), 0
    for piece in lint._PIECES.findall(s):
        if piece[0].isascii():
            starts.add(at)
            ends.add(at + len(piece))
        out.append(piece)
        at += len(piece)
    return "".join(out), frozenset(starts), frozenset(ends)


def _reference_scan(lexicon: lint.Lexicon, text: str, categories: tuple[str, ...]) -> list[object]:
    norms = sorted({n for _, n, _ in lexicon.entries}, key=lambda n: (-len(n), n))
    every = re.compile("(?=(" + "|".join(re.escape(n) for n in norms) + "))")
    inside = {n: tuple(m for m in norms if m in n) for n in norms}
    forms = (_reference_compact(text, False), _reference_compact(text, True))
    maybe: set[str] = set()
    for plain, _, _ in forms:
        for m in every.finditer(plain):
            maybe.update(inside[m.group(1)])
    hits: dict[tuple[str, str], lint.Hit] = {}
    for category, norm, term in lexicon.entries:
        if norm in maybe and category in categories and any(lint._found(norm, f) for f in forms):
            hits.setdefault((category, term), lint.Hit(category, term))
    return list(hits.values())


EVERY_CATEGORY = tuple(sorted({c for c, _, _ in lint.load().entries}))


@settings(max_examples=400, deadline=None)
@given(texts)
def test_the_lexicon_scan_is_the_one_expression_one(text: str) -> None:
    lexicon = lint.load()
    assert lexicon.scan(text, EVERY_CATEGORY) == _reference_scan(lexicon, text, EVERY_CATEGORY)
    assert lexicon.prohibited(text) == _reference_scan(lexicon, text, lint.PROHIBITED)
    for lookalikes in (False, True):
        assert lint.compact(text, lookalikes=lookalikes) == _reference_compact(text, lookalikes)
    reading = lint.Reading.of(text)
    assert reading.folded == lint.fold(text)
    assert reading.plain == lint.normalise(text)
    # what the scan relies on: OpenCC's t2s leaves ASCII be, so look-alikes read after it
    assert lint.fold(text, lookalikes=True) == lint.fold(text).translate(lint._LOOKALIKES)


def test_a_term_of_one_character_is_found_anywhere() -> None:
    lexicon = lint.Lexicon((("insult", "贱", "贱"), ("threat", "killyou", "kill you")))
    assert lexicon.scan("你真贱啊", ("insult",)) == [lint.Hit("insult", "贱")]
    assert lexicon.scan("k.i.l.l y o u", ("threat",)) == [lint.Hit("threat", "kill you")]
    assert lexicon.scan("skill you", ("threat",)) == []


# the classifier: n-grams sliced and counted, pinyin a character at a time


def _reference_probabilities(scorer: Scorer, text: str) -> np.ndarray:
    cols: list[int] = []
    vals: list[np.ndarray] = []
    for b in scorer.blocks:
        form = b.form(text)
        grams_ = Counter(form[i : i + n] for n in b.sizes for i in range(len(form) - n + 1))
        known = sorted((b.columns[g], c) for g, c in grams_.items() if g in b.columns)
        if not known:
            continue
        at = np.array([k for k, _ in known])
        w = (1.0 + np.log(np.array([c for _, c in known], dtype=float))) * b.idf[at]
        vals.append(w / np.sqrt(w @ w))
        cols.extend((at + b.start).tolist())
    logits = scorer.intercept + (
        np.concatenate(vals) @ scorer.weights[cols] if cols else np.zeros(len(scorer.labels))
    )
    e = np.exp(logits - logits.max())
    out: np.ndarray = e / e.sum()
    return out


@settings(max_examples=200, deadline=None)
@given(texts)
def test_the_scorer_is_the_sliced_and_counted_one(text: str) -> None:
    scorer = default().scorer
    got = scorer.probabilities(text)
    assert max(abs(got - _reference_probabilities(scorer, text))) < 1e-12
    assert np.array_equal(scorer.probabilities(text, written(text)), got)


def test_texts_scored_together_score_as_alone() -> None:
    scorer = default().scorer
    batch = CORPUS[::101] + ["", "!!!", "还" * 5000]  # a long one: its own TF table
    for text, row in zip(batch, scorer.probabilities_of(batch), strict=True):
        assert np.array_equal(row, scorer.probabilities(text)), text
    assert scorer.probabilities_of([]) == []


def test_the_vocabulary_hashes_are_the_rolling_hash() -> None:
    mask = 2**64 - 1
    some = ["a", "ab", "abc", "还钱", "弄死你", "bao jing", "😀x"]
    for g, got in zip(some, grams.hashes(some).tolist(), strict=True):
        h = 0
        for c in g:
            h = (h * int(grams.MIX) + ord(c)) & mask
        assert got == h ^ (int(grams._SIZE) * len(g) & mask)


def test_the_pinyin_table_reads_each_character_as_alone() -> None:
    from pypinyin import lazy_pinyin

    table = classifier._readings()
    for code in list(range(0x3400, 0xA000, 97)) + [ord(c) for c in "还钱警察乾隆行长重"]:
        assert table[code] == lazy_pinyin(chr(code))[0], hex(code)
    assert all(table[code] == chr(code) for code in range(0x3400))
    assert spoken("報警 ok") == "baojingok"
    assert classifier._read_aloud("还钱\ua000😀ﬁ") == "haiqian\ua000😀ﬁ"


@settings(max_examples=500, deadline=None)
@given(st.one_of(texts, st.text(alphabet="ab .,。，…!?;\n\t\u3000\u00a0\x1c", max_size=12)))
def test_a_text_has_parts_as_they_are_listed(text: str) -> None:
    assert _has_parts(text) == bool(_parts(text))
    for odd in ("a. b", "1,234.00 due.", "Hello. ", "Hello.\n", " 。 ", "x\u3000,\u3000y", "x,  "):
        assert _has_parts(odd) == bool(_parts(odd)), odd


def test_a_sentence_apart_needs_two_sentences_or_clauses() -> None:
    assert _parts("还钱") == []
    assert _parts("还钱。") == []
    assert [p for _, p, _ in _parts("还钱，不然弄死你")] == ["还钱", "不然弄死你"]
    assert [p for _, p, _ in _parts("Pay now. Or else.")] == ["Pay now", " Or else"]


@pytest.mark.parametrize(
    ("text", "category", "source"),
    [
        ("您好，您本月的账单已出，请按时还款。", None, None),
        ("再不还钱就弄死你", "threat", "phrase"),
        ("我们会通知你单位领导和你的家人", "third_party", "pattern:tell_third"),
    ],
)
def test_the_screen_decides_and_explains(text: str, category: str | None, source: str) -> None:
    decision = screen_with(default()).check(text)
    assert decision.category == category
    assert [f.source for f in decision.findings][:1] == ([source] if source else [])
    for f in decision.findings:
        assert text[f.start : f.end] == f.words


#: what a template's fields read as in a sent message (a name, an amount, a code ...)
_SAMPLE = [
    (r"org\.name", "千禾"),
    (r"name", "张伟"),
    (r"url", "https://verify.example.cn/v"),
    (r"\bref\b|reference|loan_id", "L20260412"),
    (r"code", "4 8 2 9 1 7"),
    (r"dpd|days|parts|count", "37"),
    (r"date|due_on|by|until", "2026-12-08"),
    (r"id", "C0007"),
]


_SENTENCE = re.compile(r"(?<=[.;!?])\s+|(?<=[。；！？])")


def _filled(body: str) -> str:
    def value(m: re.Match[str]) -> str:
        field = m.group(1)
        return next((v for k, v in _SAMPLE if re.search(k, field)), "1,234.00")

    text = re.sub(r"\{\{\s*([\w.]+)[^}]*\}\}", value, body)
    return re.sub(r"\{%[^%]*%\}|<[^>]+>", " ", text)


def test_every_sentence_of_the_shipped_templates_passes_the_screen() -> None:
    """The platform's own templates, sentence by sentence as a robocall speaks them or a call's
    scorecard reads them, are lawful: the screen flags none (a short line such as "To pay
    today, press 1." once read as impersonation)."""
    import yaml

    from arrears.channels import templates as shipped
    from arrears.compliance.conduct.screen import check

    folder = next(iter(shipped.__path__))
    flagged, seen = [], 0
    for path in sorted(__import__("pathlib").Path(folder).glob("*.yaml")):
        for name, tpl in yaml.safe_load(path.read_text(encoding="utf-8")).items():
            for key in ("subject", "body"):
                for sentence in _SENTENCE.split(_filled(tpl.get(key) or "")):
                    if len(sentence.strip()) < 3:
                        continue
                    seen += 1
                    found = check(sentence.strip()).findings
                    if found:
                        flagged.append((path.name, name, found[0].category, sentence.strip()))
    assert seen > 150
    assert not flagged, flagged


@pytest.mark.parametrize(
    "text", ["0.", "00.", "127.0.0.1", "6,970.27", "1:8000", "— 4 8 2 9 —", " "]
)
def test_a_text_without_a_word_is_never_flagged(text: str) -> None:
    """A recogniser's stray segment ("0." of a spoken address) has nothing to judge."""
    from arrears.compliance.conduct.screen import check

    assert check(text).findings == () and check(text).risk == 0.0
