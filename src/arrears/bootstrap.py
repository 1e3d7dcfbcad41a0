"""Composition root: settings -> engine, cipher, clock. Entrypoints call :func:`bootstrap`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from arrears.settings import Settings, get_settings
from arrears.store.crypto import Cipher
from arrears.store.db import make_engine

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class App:
    settings: Settings
    engine: Engine
    cipher: Cipher
    clock: Clock
    #: scores accounts for strategies that use models (``arrears.cycle.run.Scorer``); set by
    #: the entrypoints from ``ARREARS_MODEL_FILE``
    scorer: Any = None

    def today(self, timezone: str | None = None) -> date:
        """The business date now, in the business timezone (Asia/Shanghai by default)."""
        return self.clock().astimezone(ZoneInfo(timezone or self.settings.business_timezone)).date()


def bootstrap(settings: Settings | None = None, clock: Clock = system_clock) -> App:
    settings = settings or get_settings()
    return App(
        settings=settings,
        engine=make_engine(settings.database_url),
        cipher=Cipher(settings.data_key_bytes, settings.old_data_keys_bytes),
        clock=clock,
    )


def offset_clock(at: datetime, base: Clock = system_clock) -> Clock:
    """A clock that reads ``at`` now and runs on from there (replaying a day, demos)."""
    shift = at - base()
    return lambda: base() + shift
