"""A clock a test moves by hand, and the plan's rows as a test reads them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from arrears.bootstrap import App
from arrears.store import tables as t
from tests.conftest import FIXED_NOW


class Clock:
    """Reads ``at``; a test sets ``at`` to move time on."""

    def __init__(self, at: datetime = FIXED_NOW) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def plan_rows(app: App, **where: Any) -> list[Any]:
    """The plan's actions matching ``where`` (column=value), in action id order."""
    pa_ = t.plan_action
    q = select(pa_).order_by(pa_.c.action_id)
    for k, v in where.items():
        q = q.where(getattr(pa_.c, k) == v)
    with app.engine.connect() as conn:
        return list(conn.execute(q).all())
