"""Attempt counters kept in the store, so every server process (``serve --workers N``) and
every concurrent request counts against the same allowance.

Each count is one ``INSERT … ON CONFLICT … DO UPDATE … RETURNING`` (SQLite 3.35+ and
PostgreSQL alike): the row is read and bumped under the database's own write lock, so forty
requests at once count forty, never fewer.

* :func:`hit`: a fixed window of ``limit`` attempts per ``window`` (per-address limits);
* :func:`reserve` / :func:`clear`: a lock-out. An attempt is counted *before* it is checked, so
  concurrent guesses cannot all slip in before the first failure is written; the attempt that
  reaches ``limit`` starts the lock, and a success clears the count.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, text

from arrears.bootstrap import App
from arrears.store import tables as t

#: counters idle this long are forgotten (a spray of made-up names cannot grow the table forever)
FORGET_AFTER = timedelta(days=1)

_HIT = text(
    "INSERT INTO throttle (bucket, hits, window_start, locked_until, updated_at) "
    "VALUES (:bucket, 1, :now, 0, :now) "
    "ON CONFLICT (bucket) DO UPDATE SET "
    "hits = CASE WHEN throttle.window_start <= :stale THEN 1 ELSE throttle.hits + 1 END, "
    "window_start = CASE WHEN throttle.window_start <= :stale THEN :now "
    "ELSE throttle.window_start END, "
    "updated_at = :now "
    "RETURNING hits, window_start"
)

_RESERVE = text(
    "INSERT INTO throttle (bucket, hits, window_start, locked_until, updated_at) "
    "VALUES (:bucket, 1, :now, CASE WHEN :limit <= 1 THEN :lock ELSE 0 END, :now) "
    "ON CONFLICT (bucket) DO UPDATE SET "
    "hits = CASE WHEN throttle.locked_until > 0 AND throttle.locked_until <= :now THEN 1 "
    "ELSE throttle.hits + 1 END, "
    "locked_until = CASE WHEN throttle.locked_until > 0 AND throttle.locked_until <= :now THEN 0 "
    "WHEN throttle.locked_until = 0 AND throttle.hits + 1 >= :limit THEN :lock "
    "ELSE throttle.locked_until END, "
    "updated_at = :now "
    "RETURNING hits, locked_until"
)


def _seconds(at: datetime) -> int:
    return int(at.timestamp())


def hit(app: App, bucket: str, limit: int, window: timedelta) -> timedelta | None:
    """Count one attempt by ``bucket``: None while within ``limit`` per ``window``, else how
    long until the window ends."""
    now = _seconds(app.clock())
    span = int(window.total_seconds())
    with app.engine.begin() as conn:
        hits, start = conn.execute(
            _HIT, {"bucket": bucket[:200], "now": now, "stale": now - span}
        ).one()
    if hits <= limit:
        return None
    return timedelta(seconds=max(1, start + span - now))


def reserve(app: App, bucket: str, limit: int, lock: timedelta) -> bool:
    """Count one attempt by ``bucket`` before it is checked; False when it is locked out (more
    than ``limit`` attempts since the count was last cleared, within ``lock`` of the attempt
    that reached the limit)."""
    now = _seconds(app.clock())
    with app.engine.begin() as conn:
        hits, _ = conn.execute(
            _RESERVE,
            {
                "bucket": bucket[:200],
                "now": now,
                "limit": limit,
                "lock": now + int(lock.total_seconds()),
            },
        ).one()
        conn.execute(
            delete(t.throttle).where(
                t.throttle.c.updated_at < now - int(FORGET_AFTER.total_seconds()),
                t.throttle.c.locked_until < now,
            )
        )
    return bool(hits <= limit)


def clear(app: App, bucket: str) -> None:
    """Forget ``bucket``'s attempts (a success)."""
    with app.engine.begin() as conn:
        conn.execute(delete(t.throttle).where(t.throttle.c.bucket == bucket[:200]))
