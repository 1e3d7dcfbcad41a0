"""The contact templates in force, as listed: each template's latest version."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from arrears.store import tables as t

if TYPE_CHECKING:
    from arrears.bootstrap import App


@dataclass(frozen=True)
class TemplateVersion:
    """A template (name and locale) with its channel, audience and latest version."""

    name: str
    locale: str
    channel: str
    audience: str
    version: int


def templates_in_force(app: App) -> list[TemplateVersion]:
    """Every template's latest version, by name and locale."""
    tp = t.template
    q = (
        select(tp.c.name, tp.c.locale, tp.c.channel, tp.c.audience, func.max(tp.c.version))
        .group_by(tp.c.name, tp.c.locale, tp.c.channel, tp.c.audience)
        .order_by(tp.c.name, tp.c.locale)
    )
    with app.engine.connect() as conn:
        return [TemplateVersion(*r) for r in conn.execute(q).all()]
