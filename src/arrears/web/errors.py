"""The pages' answer to an HTTP error (403, 404, 405...): a page in the reader's language (the
portal's for the portal's addresses, the console's elsewhere) that says what happened by its
status; an error's own words are shown only when the catalogue has them
(:data:`arrears.web.refusals.STALE_FORM`, a field refused for what it holds), never in English on
a Chinese page."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi import Request
from fastapi.responses import Response
from markupsafe import escape
from starlette.exceptions import HTTPException

from arrears.web.console import session
from arrears.web.i18n import Pages, as_is, gettext
from arrears.web.labels import labeller
from arrears.web.portal import context
from arrears.web.refusals import STALE_FORM

TEMPLATES = Path(__file__).parent / "console" / "templates"
#: the errors' words a page may show, beside the headline of the status
SHOWN = frozenset({STALE_FORM})
PORTAL = ("/portal", "/verify", "/sandbox")


def error_pages() -> Callable[[Request, HTTPException], Response]:
    """A page for an HTTP error raised on a page's address."""
    pages = Pages(TEMPLATES, per_lang=lambda lang: {"label": labeller(lang)})

    def page(request: Request, exc: HTTPException) -> Response:
        portal = request.url.path.startswith(PORTAL)
        lang = context.lang_of(request) if portal else session.lang_of(request)
        _ = gettext(lang)
        detail, field = str(exc.detail), (exc.headers or {}).get("X-Field")
        said: str | None = _(detail) if detail in SHOWN else None
        if exc.status_code == 422 and field:  # a field refused as it came (arrears.web.nul)
            said = escape(_("The field %(field)s holds a character that is not allowed.")) % {
                "field": as_is(field)
            }
        return pages.render(
            request,
            lang,
            "error.html",
            {"lang": lang, "me": None, "status": exc.status_code, "said": said,
             "home": "/portal" if portal else "/", "flash": None},
            exc.status_code,
        )  # fmt: skip

    return page
