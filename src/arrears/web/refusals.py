"""A use case's refusal as the console and the portal show it: a headline for its kind, in the
reader's language, then what the service said. Told apart by type (arrears.service.errors),
never by the message's text."""

from __future__ import annotations

from urllib.parse import quote

from arrears.service.errors import (
    Conflict,
    Forbidden,
    Invalid,
    LimitExceeded,
    NotFound,
    ServiceError,
    StoreNotReady,
)
from arrears.web.i18n import N_, gettext

#: what a page says of a form sent with an outdated CSRF token (the HTTP error's detail)
STALE_FORM = N_("The form is out of date (CSRF); reload the page.")
#: the headline of each kind of refusal (the first kind that matches), translated when shown
HEADLINES: tuple[tuple[type[ServiceError], str], ...] = (
    (Invalid, N_("Not accepted")),
    (NotFound, N_("Not found")),
    (Conflict, N_("Not possible as the account stands")),
    (Forbidden, N_("Your role may not do this")),
    (LimitExceeded, N_("Beyond the portfolio policy's limit")),
    (StoreNotReady, N_("The store is not ready")),
    (ServiceError, N_("Cannot be done")),
)


def headline(exc: ServiceError, lang: str) -> str:
    """The headline of ``exc``'s kind in ``lang``."""
    _ = gettext(lang)
    return _(next(text for kind, text in HEADLINES if isinstance(exc, kind)))


def refusal(exc: ServiceError, lang: str) -> str:
    """What a page says of ``exc``: its kind's headline, then the service's own words."""
    from arrears.service.conduct.contacts import Refused

    colon = "：" if lang.startswith("zh") else ": "
    said = exc.said(lang) if isinstance(exc, Refused) else str(exc)
    return f"{headline(exc, lang)}{colon}{said}"


def flash_to(path: str, exc: ServiceError, lang: str) -> str:
    """The address of ``path`` showing ``exc`` as its flash message (quoted: a message may hold
    ``&``, ``#`` or ``?``)."""
    return f"{path}?flash={quote(refusal(exc, lang), safe='')}"
