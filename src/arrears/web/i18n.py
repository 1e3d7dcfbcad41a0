"""The web's languages: gettext catalogues made with Babel (``src/arrears/locale``), English
source strings as msgids, zh-CN the default.

Python marks a string with ``_``/``gettext`` of the reader's :func:`translations`, or with
:func:`N_` where it is only named (a code's label in a table) and translated when a page is
drawn. Templates use ``{{ _('...') }}`` and ``{% trans %}`` (``jinja2.ext.i18n``, newstyle:
``%(name)s`` placeholders are escaped and checked). Each language has its own Jinja2
environment with its translations installed (:class:`Pages`): nothing is swapped per request,
so concurrent requests in two languages never see each other's words.

The ``.mo`` files are built from the ``.po`` files (``scripts/i18n compile``, run by
``scripts/setup``); a missing one stops the page with that advice, never shows msgids.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from babel.support import Translations
from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

#: the languages pages are written in, the default first
LANGS = ("zh-CN", "en")
DEFAULT = LANGS[0]
LOCALE_DIR = Path(__file__).resolve().parents[1] / "locale"
DOMAIN = "messages"
#: each language's catalogue folder (gettext's names: an underscore, never a hyphen)
CATALOGUE = {"zh-CN": "zh_CN", "en": "en"}
#: the other language's name, as the switch shows it: in that language's own words
SWITCH = {"zh-CN": "English", "en": "中文"}


class CatalogueMissing(RuntimeError):
    """A language's compiled catalogue (.mo) is not there: the build did not compile it."""


def N_(text: str) -> str:
    """Mark ``text`` for the catalogue without translating it (``gettext_noop``): a label kept
    in a table and translated where a page shows it."""
    return text


def translations(lang: str) -> Translations:
    """``lang``'s compiled catalogue (English's, the source text, for a language without one);
    :class:`CatalogueMissing` when it was not compiled."""
    return _catalogue(CATALOGUE.get(lang, CATALOGUE["en"]))


@lru_cache(maxsize=len(CATALOGUE))
def _catalogue(name: str) -> Translations:
    mo = LOCALE_DIR / name / "LC_MESSAGES" / f"{DOMAIN}.mo"
    if not mo.is_file():
        raise CatalogueMissing(
            f"{mo} is missing: the web's catalogues are compiled from their .po files by "
            "`scripts/i18n compile` (scripts/setup runs it); run it and start again"
        )
    found = Translations.load(str(LOCALE_DIR), [name], DOMAIN)
    if not isinstance(found, Translations):  # Babel's fallback: no catalogue read
        raise CatalogueMissing(f"{mo} could not be read: run `scripts/i18n compile`")
    return found


def gettext(lang: str) -> Callable[[str], str]:
    """``_`` for Python code drawing a page in ``lang``: bind it as ``_ = gettext(lang)`` and
    write ``_("...")``, so extraction finds the string (``gettext(lang)("...")`` is not found);
    plurals: ``translations(lang).ngettext(singular, plural, n)``."""
    return translations(lang).gettext


def as_is(value: object) -> Markup:
    """``value`` (a name, an id, a code) shown as it is inside translated text, marked
    ``translate="no"``; escaped. A template passes it into a message:
    ``_('against %(name)s', name=as_is(x))``."""
    return Markup('<bdi translate="no">{}</bdi>').format(value)


def environment(directory: Path, lang: str, **globals_: Any) -> jinja2.Environment:
    """A Jinja2 environment for ``directory``'s templates with ``lang``'s translations
    installed (newstyle gettext), autoescaped."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(directory)),
        autoescape=jinja2.select_autoescape(),
        extensions=["jinja2.ext.i18n"],
    )
    env.policies["ext.i18n.trimmed"] = True  # {% trans %} blocks: whitespace folded
    install = env.install_gettext_translations  # type: ignore[attr-defined]
    install(translations(lang), newstyle=True)
    env.globals.update(globals_, switch=SWITCH[lang], as_is=as_is, short_ref=short_ref)
    return env


def short_ref(ident: str) -> str:
    """A reference a person can read out: ``ar-9dd4a1b2c3...`` -> ``9DD4-A1B2`` (the id's first
    eight characters after its kind, which is said in words beside it)."""
    body = ident.split("-", 1)[-1].replace("-", "")[:8].upper()
    return f"{body[:4]}-{body[4:]}" if len(body) > 4 else body


class Pages:
    """One set of templates per language, each in its own environment; renders a page in the
    language asked for."""

    def __init__(
        self,
        directory: Path,
        globals_: Mapping[str, Any] | None = None,
        per_lang: Callable[[str], Mapping[str, Any]] | None = None,
    ) -> None:
        self.by_lang: dict[str, Jinja2Templates] = {}
        for lang in LANGS:
            extra = {**(globals_ or {}), **(per_lang(lang) if per_lang else {})}
            self.by_lang[lang] = Jinja2Templates(env=environment(directory, lang, **extra))

    def render(
        self,
        request: Request,
        lang: str,
        name: str,
        context: dict[str, Any],
        status: int = 200,
    ) -> HTMLResponse:
        templates = self.by_lang.get(lang) or self.by_lang[DEFAULT]
        return templates.TemplateResponse(request, name, context, status_code=status)
