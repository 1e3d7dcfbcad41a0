"""A use case's refusal as the console and the portal show it: a headline for its kind, in the
reader's language, then what the service said. Told apart by type (arrears.service.errors),
never by the message's text."""

from __future__ import annotations

import hashlib
import hmac
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


def flash_to(path: str, exc: ServiceError, lang: str, key: str) -> str:
    """The address of ``path`` showing ``exc`` as its flash message (quoted: a message may hold
    ``&``, ``#`` or ``?``), signed with ``key`` (:func:`flash_with`)."""
    return flash_with(path, refusal(exc, lang), key)


def flash_with(path: str, text: str, key: str) -> str:
    """The address of ``path`` showing ``text`` as its flash message, with its signature: an
    HMAC under ``key``, the visitor's CSRF token (the same in every server process, and no one
    else's). A page shows a message of its own words only when the signature holds, so a link
    cannot put words of an attacker's in the console's status line."""
    sep = "&" if "?" in path else "?"
    return f"{path}{sep}flash={quote(text, safe='')}&fs={flash_signature(text, key)}"


def flash_signature(text: str, key: str) -> str:
    return hmac.new(key.encode(), text.encode(), hashlib.sha256).hexdigest()[:32]


def flash_shown(text: str | None, signature: str | None, key: str) -> str | None:
    """``text`` when ``signature`` is its signature under ``key`` (a visitor's CSRF token),
    else None."""
    if not text or not signature or not key:
        return None
    return text if hmac.compare_digest(flash_signature(text, key), signature) else None
