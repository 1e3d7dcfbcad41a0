"""Create or migrate the store."""

from __future__ import annotations

from arrears.bootstrap import App
from arrears.service.errors import StoreNotReady
from arrears.store import db


def init_store(app: App) -> str | None:
    """Apply every migration; return the schema revision now in force."""
    db.upgrade(app.engine)
    return db.current_revision(app.engine)


def require_current(app: App) -> None:
    if not db.is_current(app.engine):
        raise StoreNotReady(
            "the store's schema is missing or out of date: run `arrears init` first"
        )
