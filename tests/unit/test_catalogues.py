"""The web's catalogues match its sources: extraction (Babel's own, with babel.cfg, as
``scripts/i18n extract`` runs it) on today's code finds no message the zh_CN catalogue lacks,
none there is empty or fuzzy, and every translation keeps its message's placeholders; the
committed template and the en catalogue hold the same messages; the compiled catalogues say
what the .po files say; and every code the service hands a page has a label. A stale
catalogue fails here (the checks are shown failing on a copy made stale on purpose)."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po, write_po

from arrears.web.i18n import CATALOGUE, LOCALE_DIR, translations
from arrears.web.labels import LABELS

ROOT = Path(__file__).resolve().parents[2]
#: a placeholder: %(name)s with its conversion, a bare %s or %d, or a literal %%
PLACEHOLDER = re.compile(r"%(?:\((\w+)\))?[-#0 +]*\d*(?:\.\d+)?([sdifr%])")


def _key(m: Message) -> str:
    return m.id if isinstance(m.id, str) else m.id[0]


def _texts(value: str | Iterable[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def extract(into: Path) -> Catalog:
    """Today's messages, extracted as scripts/i18n does, written to ``into`` (a .pot) and read
    back."""
    with open(ROOT / "babel.cfg", encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f)
    pot = Catalog(project="arrears")
    for filename, lineno, message, comments, context in extract_from_dir(
        str(ROOT),
        method_map,
        options_map,
        directory_filter=lambda d: not Path(d).name.startswith("."),
    ):
        pot.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    with open(into, "wb") as f:
        write_po(f, pot)
    with open(into, "rb") as f:
        return read_po(f)


def catalogue(lang: str) -> Catalog:
    with open(LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po", "rb") as f:
        return read_po(f, locale=lang)


def placeholders(text: str) -> list[tuple[str | None, str]]:
    return sorted((name, kind) for name, kind in PLACEHOLDER.findall(text) if kind != "%")


def problems(extracted: Catalog, po: Catalog) -> list[str]:
    """What is wrong with ``po`` (a translated catalogue) against today's ``extracted``
    messages: missing, empty, fuzzy, placeholders not the message's, and left over."""
    found: list[str] = []
    for m in extracted:
        if not m.id:
            continue
        got = po.get(m.id)
        if got is None:
            found.append(f"missing: {_key(m)!r}")
            continue
        strings = _texts(got.string)
        if not strings or not all(s.strip() for s in strings):
            found.append(f"untranslated: {_key(m)!r}")
        if got.fuzzy:
            found.append(f"fuzzy: {_key(m)!r}")
        wanted = {tuple(placeholders(t)) for t in _texts(m.id)}
        for s in strings:
            if s.strip() and tuple(placeholders(s)) not in wanted:
                found.append(f"placeholders differ: {_key(m)!r} → {s!r}")
    ids = {_key(m) for m in extracted if m.id}
    found += [f"left over: {_key(m)!r}" for m in po if m.id and _key(m) not in ids]
    return found


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    return extract(tmp_path_factory.mktemp("pot") / "messages.pot")


def test_extraction_finds_the_web_s_words(extracted: Catalog) -> None:
    ids = {_key(m) for m in extracted if m.id}
    # a template's, a Python flash's, a label's (N_) and a plural's
    for sample in ("My queue", "Saved.", "Spoke with the borrower", "%(num)s day"):
        assert sample in ids
    assert len(ids) > 300


def test_every_message_has_a_chinese_translation_with_its_placeholders(
    extracted: Catalog,
) -> None:
    assert problems(extracted, catalogue("zh_CN")) == []


def test_no_chinese_translation_is_english_copied() -> None:
    """A zh_CN text holds Chinese, or no letters at all besides its placeholders and the names
    that stay as they are in Chinese text (PDF, YAML, CSRF, units, the brand's command)."""
    kept = re.compile(r"%\(\w+\)[sd]|\b(PDF|YAML|CSRF|MB|kB|M1|M2|arrears portfolio)\b")
    copied = [
        _key(m)
        for m in catalogue("zh_CN")
        for s in _texts(m.string)
        if m.id and re.search("[A-Za-z]", kept.sub("", s)) and not re.search("[\u4e00-\u9fff]", s)
    ]
    assert copied == []


def test_the_template_and_the_english_catalogue_hold_the_same_messages(
    extracted: Catalog,
) -> None:
    ids = {_key(m) for m in extracted if m.id}
    with open(LOCALE_DIR / "messages.pot", "rb") as f:
        assert {_key(m) for m in read_po(f) if m.id} == ids, "run scripts/i18n extract"
    en = catalogue("en")
    assert {_key(m) for m in en if m.id} == ids, "run scripts/i18n extract"
    for m in en:  # English may leave a message as it is, never say something else
        for s in _texts(m.string):
            assert not s or placeholders(s) == placeholders(_key(m)), m.id


def test_the_compiled_catalogues_say_what_the_po_files_say() -> None:
    for lang, name in CATALOGUE.items():
        loaded = translations(lang)
        for m in catalogue(name):
            if not m.id or m.fuzzy:
                continue
            if isinstance(m.id, str):
                assert loaded.gettext(m.id) == (m.string or m.id), "run scripts/i18n compile"
            else:
                want = _texts(m.string)[0] or m.id[1]
                assert loaded.ngettext(m.id[0], m.id[1], 2) == want, "run scripts/i18n compile"


def test_a_stale_catalogue_fails(extracted: Catalog) -> None:
    """The checks above can fail: a copy of zh_CN missing a message, with one left fuzzy, one
    empty, one whose placeholder is misspelt, and one the sources no longer have."""
    po = copy.deepcopy(catalogue("zh_CN"))
    po.delete("My queue")
    po["Saved."].flags.add("fuzzy")
    po["Not found"].string = ""
    po["was %(day)s"].string = "原到期日 %(date)s"
    po.add("A word nobody uses any more", "没人用的词")
    found = problems(extracted, po)
    assert "missing: 'My queue'" in found
    assert "fuzzy: 'Saved.'" in found
    assert "untranslated: 'Not found'" in found
    assert any(p.startswith("placeholders differ: 'was %(day)s'") for p in found)
    assert "left over: 'A word nobody uses any more'" in found


def test_every_code_the_service_hands_a_page_has_a_label() -> None:
    from arrears.compliance.conduct.scorecard import DISCLOSURES
    from arrears.compliance.conduct.screen import NAMES
    from arrears.compliance.facts import RESULTS
    from arrears.compliance.rulebook import HOLD_KINDS
    from arrears.domain.complaint_categories import CATEGORIES
    from arrears.domain.delinquency import DEFAULT_STAGES
    from arrears.domain.dispositions import DISPOSITIONS, REASONS
    from arrears.service.borrower import selfserve
    from arrears.service.cases import complaints, restructure
    from arrears.service.conduct.alerts import STATUSES
    from arrears.service.staff.users import ROLES

    wanted = {
        "result": RESULTS,
        "role": ROLES,
        "hold": HOLD_KINDS,
        "complaint": tuple(CATEGORIES),
        "finding": complaints.FINDINGS,
        "category": tuple(NAMES),
        "disclosure": tuple(DISCLOSURES),
        "alert_status": STATUSES,
        "arrangement": (*restructure.KINDS, *selfserve.KINDS, "waiver"),
        "stage": tuple(b.name for b in DEFAULT_STAGES.bands),
        "disposition": DISPOSITIONS,
        "reason": REASONS,
    }
    for family, codes in wanted.items():
        assert set(codes) <= set(LABELS[family]), (family, set(codes) - set(LABELS[family]))


def test_a_missing_compiled_catalogue_stops_the_page_with_the_way_out(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Never msgids in place of Chinese: without its .mo a language does not load, and says
    how to build it."""
    from arrears.web import i18n

    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    i18n._catalogue.cache_clear()
    try:
        with pytest.raises(i18n.CatalogueMissing, match="scripts/i18n compile"):
            i18n.translations("zh-CN")
        with pytest.raises(i18n.CatalogueMissing):
            i18n.environment(tmp_path, "en")
    finally:
        i18n._catalogue.cache_clear()
