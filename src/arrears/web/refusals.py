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

#: the headline of each kind of refusal, by language (the first kind that matches)
HEADLINES: dict[str, tuple[tuple[type[ServiceError], str], ...]] = {
    "zh-CN": (
        (Invalid, "输入有误"),
        (NotFound, "未找到"),
        (Conflict, "与账户当前状态冲突"),
        (Forbidden, "您的角色无权执行此操作"),
        (LimitExceeded, "超出资产包政策的限额"),
        (StoreNotReady, "数据库尚未就绪"),
        (ServiceError, "无法办理"),
    ),
    "en": (
        (Invalid, "Not accepted"),
        (NotFound, "Not found"),
        (Conflict, "Not possible as the account stands"),
        (Forbidden, "Your role may not do this"),
        (LimitExceeded, "Beyond the portfolio policy's limit"),
        (StoreNotReady, "The store is not ready"),
        (ServiceError, "Cannot be done"),
    ),
}


def headline(exc: ServiceError, lang: str) -> str:
    """The headline of ``exc``'s kind in ``lang`` (English for a language without one)."""
    table = HEADLINES.get(lang, HEADLINES["en"])
    return next(text for kind, text in table if isinstance(exc, kind))


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
