"""Leases: a round claims a batch of actions whose window is open (PostgreSQL: ``FOR UPDATE SKIP
LOCKED``, so several dispatchers share the work; SQLite: one dispatcher, guarded by a lock
file), releases them with what became of them (and ends their message and contact attempt), and
waits out a database restart."""

from __future__ import annotations

import fcntl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, and_, or_, select, update

from arrears.bootstrap import App
from arrears.service.errors import Invalid

#: the contact point each channel sends to (push goes to the borrower's app account)
from arrears.service.outreach.state import RECONNECT_TRIES, SENDING, Options
from arrears.store import tables as t


def claim_batch(app: App, worker: str, now: datetime, opts: Options) -> list[Any]:
    """Lease up to ``opts.batch`` actions that are ready now; returns their rows."""
    pa_ = t.plan_action
    ready_new = and_(
        pa_.c.status == "planned",
        pa_.c.window_start <= now,
        pa_.c.window_end > now,
    )
    ready_again = pa_.c.status == SENDING  # a dead dispatcher's, or waiting for a retry
    conds = [
        or_(ready_new, ready_again),
        pa_.c.channel.in_(opts.channels),
        or_(pa_.c.next_try_at.is_(None), pa_.c.next_try_at <= now),
        or_(pa_.c.lease_until.is_(None), pa_.c.lease_until < now),
    ]
    if opts.day is not None:
        conds.append(pa_.c.business_date == opts.day)
    pick = (
        select(pa_.c.action_id)
        .where(and_(*conds))
        .order_by(pa_.c.priority.desc(), pa_.c.action_id)
        .limit(opts.batch)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    until = now + timedelta(seconds=opts.lease_seconds)
    with app.engine.begin() as conn:
        rows = conn.execute(
            update(pa_)
            .where(pa_.c.action_id.in_(pick))
            .values(lease_owner=worker, lease_until=until)
            .returning(*pa_.c)
        ).all()
    return sorted(rows, key=lambda r: (-r.priority, r.action_id))


def release_lease(conn: Connection, action_id: str, worker: str, **values: Any) -> bool:
    pa_ = t.plan_action
    done = conn.execute(
        update(pa_)
        .where(and_(pa_.c.action_id == action_id, pa_.c.lease_owner == worker))
        .values(lease_owner=None, lease_until=None, **values)
    )
    return bool(done.rowcount)


@contextmanager
def single_sqlite(app: App) -> Iterator[None]:
    """On SQLite only one dispatcher runs: a second one is told so and stops."""
    url = app.engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        yield
        return
    path = Path(f"{url.database}.dispatch.lock")
    with open(path, "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise Invalid(
                f"another dispatcher is working on {url.database}: SQLite runs one at a time "
                "(use PostgreSQL to run several)"
            ) from exc
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def wait_for_database(app: App, lost: int) -> int:
    """The database went away (a restart, a failover): wait and reconnect. What was claimed
    stays leased and is taken up again when the lease ends; a message handed over before is
    sent again only under its own key. Gives up after :data:`RECONNECT_TRIES` in a row."""
    if lost > RECONNECT_TRIES:
        raise Invalid(f"the database has been unreachable {lost - 1} times in a row")
    app.engine.dispose()
    time.sleep(min(2.0 * lost, 10.0))
    return lost


def end_message(
    conn: Connection, action_id: str, attempt_id: str | None, status: str, result: str, detail: str
) -> None:
    ob = t.outbox_message
    conn.execute(update(ob).where(ob.c.action_id == action_id).values(status=status, detail=detail))
    if attempt_id:
        ca = t.contact_attempt
        conn.execute(update(ca).where(ca.c.attempt_id == attempt_id).values(result=result))
