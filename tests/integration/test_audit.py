"""The evidence log on SQLite and PostgreSQL: tampering is found and named; purging keeps a
verifiable chain and nothing inside retention."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import delete, update

from arrears.bootstrap import App
from arrears.service.staff.evidence_log import purge_log, verify_log
from arrears.store import audit
from arrears.store import tables as t

T0 = datetime(2023, 1, 10, 9, 0, tzinfo=UTC)


def _fill(app: App, n: int = 10, rulebook: str = "cn", start: datetime = T0) -> None:
    entries = [
        audit.Entry(
            "gate_decision",
            f"B{k}",
            rulebook,
            {"k": k, "allowed": k % 2 == 0},
            start + timedelta(days=30 * k),
        )
        for k in range(n)
    ]
    with app.engine.begin() as conn:
        audit.append(conn, entries[: n // 2])
    with app.engine.begin() as conn:
        audit.append(conn, entries[n // 2 :])


def test_an_intact_log_verifies(app: App) -> None:
    _fill(app)
    result = verify_log(app)
    assert result.ok and result.entries == 10


def test_a_changed_entry_is_named(app: App) -> None:
    _fill(app)
    with app.engine.begin() as conn:
        conn.execute(
            update(t.audit_log)
            .where(t.audit_log.c.seq == 4)
            .values(payload='{"k":4,"allowed":false}')
        )
    result = verify_log(app)
    assert (result.ok, result.first_bad_seq) == (False, 4) and "changed" in (result.problem or "")


def test_a_removed_entry_is_named(app: App) -> None:
    _fill(app)
    with app.engine.begin() as conn:
        conn.execute(delete(t.audit_log).where(t.audit_log.c.seq == 6))
    result = verify_log(app)
    assert (result.ok, result.first_bad_seq) == (False, 6)


def test_removing_the_newest_entries_is_found(app: App) -> None:
    _fill(app)
    with app.engine.begin() as conn:
        conn.execute(delete(t.audit_log).where(t.audit_log.c.seq >= 9))
    result = verify_log(app)
    assert (result.ok, result.first_bad_seq) == (False, 9)


def test_reordered_entries_are_found(app: App) -> None:
    _fill(app)
    with app.engine.begin() as conn:
        rows = {
            r.seq: r
            for r in conn.execute(t.audit_log.select().where(t.audit_log.c.seq.in_([2, 3])))
        }
        for a, b in ((2, 3), (3, 2)):
            src = rows[b]
            conn.execute(
                update(t.audit_log)
                .where(t.audit_log.c.seq == a)
                .values(
                    at=src.at,
                    kind=src.kind,
                    subject=src.subject,
                    payload=src.payload,
                    prev_hash=src.prev_hash,
                    hash=src.hash,
                )
            )
    result = verify_log(app)
    assert (result.ok, result.first_bad_seq) == (False, 2)


def test_purge_removes_only_what_is_past_retention_and_keeps_the_chain(app: App) -> None:
    _fill(app)  # cn entries every 30 days from 2023-01-10; the app's clock is 2026-11-23
    removed = purge_log(app, date(2026, 1, 1))
    # cn keeps 2 years: entries before 2024-11-23 may go; all ten (to 2023-10-07) qualify
    assert removed == 10
    assert verify_log(app).ok
    _fill(app, n=4, rulebook="us-regf", start=datetime(2024, 1, 5, tzinfo=UTC))
    assert purge_log(app, date(2026, 1, 1)) == 0  # us-regf keeps 3 years: to 2027
    result = verify_log(app)
    assert result.ok and result.entries == 4


def test_purge_stops_at_the_first_entry_it_must_keep(app: App) -> None:
    _fill(app, n=6)  # 2023-01-10 ... 2023-06-09
    assert purge_log(app, date(2023, 3, 1)) == 2  # 01-10 and 02-09 are before the date
    result = verify_log(app)
    assert result.ok and result.entries == 4
    with app.engine.begin() as conn:
        audit.append(conn, [audit.Entry("contact_attempt", "B9", "cn", {}, T0)])
    assert verify_log(app).ok
