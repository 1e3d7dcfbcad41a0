"""The evidence log: every gate decision and contact attempt, append-only and hash-chained.

Entry n's hash is SHA-256 over the previous entry's hash and entry n's canonical content (seq,
instant, kind, subject, rulebook, payload), so changing, removing or reordering any entry breaks
the chain from that entry on. Purging removes only a prefix of entries past their retention and
records the last removed entry's seq and hash as the anchor the remaining chain starts from.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from arrears.store import tables as t
from arrears.store.db import as_utc

GENESIS = "0" * 64


@dataclass(frozen=True)
class Entry:
    kind: str
    subject: str
    rulebook: str
    payload: dict[str, Any]
    at: datetime


def canonical(payload: Any) -> str:
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def entry_hash(
    prev: str, seq: int, at: datetime, kind: str, subject: str, rulebook: str, payload: str
) -> str:
    body = canonical([seq, as_utc(at).isoformat(), kind, subject, rulebook, payload])
    return hashlib.sha256((prev + body).encode("utf-8")).hexdigest()


def _mark(conn: Connection, name: str) -> tuple[int, str]:
    row = conn.execute(select(t.audit_head).where(t.audit_head.c.name == name)).first()
    return (0, GENESIS) if row is None else (int(row.seq), str(row.hash))


def _set_mark(conn: Connection, name: str, seq: int, digest: str) -> None:
    done = conn.execute(
        update(t.audit_head).where(t.audit_head.c.name == name).values(seq=seq, hash=digest)
    )
    if done.rowcount == 0:
        conn.execute(insert(t.audit_head).values(name=name, seq=seq, hash=digest))


def record(
    conn: Connection,
    kind: str,
    subject: str,
    at: datetime,
    payload: dict[str, Any],
    rulebook: str = "",
) -> int:
    """Append one entry (:func:`append`); its sequence number."""
    return append(
        conn, [Entry(kind=kind, subject=subject, rulebook=rulebook, payload=payload, at=at)]
    )


def append(conn: Connection, entries: Iterable[Entry]) -> int:
    """Append entries in the caller's transaction; return the last seq written."""
    if conn.dialect.name == "postgresql":  # one appender at a time: lock the head row
        conn.execute(select(t.audit_head).where(t.audit_head.c.name == "head").with_for_update())
    seq, prev = _mark(conn, "head")
    rows = []
    for e in entries:
        seq += 1
        payload = canonical(e.payload)
        digest = entry_hash(prev, seq, e.at, e.kind, e.subject, e.rulebook, payload)
        rows.append(
            {
                "seq": seq,
                "at": as_utc(e.at),
                "kind": e.kind,
                "subject": e.subject,
                "rulebook": e.rulebook,
                "payload": payload,
                "prev_hash": prev,
                "hash": digest,
            }
        )
        prev = digest
    if rows:
        conn.execute(insert(t.audit_log), rows)
        _set_mark(conn, "head", seq, prev)
    return seq


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    first_bad_seq: int | None = None
    problem: str | None = None


def verify(conn: Connection, page: int = 10_000) -> Verification:
    """Walk the chain from the anchor; name the first entry that does not fit."""
    seq, prev = _mark(conn, "anchor")
    count = 0
    last = seq
    while True:
        rows = conn.execute(
            select(t.audit_log)
            .where(t.audit_log.c.seq > last)
            .order_by(t.audit_log.c.seq)
            .limit(page)
        ).all()
        if not rows:
            break
        for r in rows:
            expected = seq + 1
            if r.seq != expected:
                return Verification(False, count, expected, f"entry {expected} is missing")
            if r.prev_hash != prev:
                return Verification(False, count, r.seq, "does not follow the previous entry")
            digest = entry_hash(prev, r.seq, r.at, r.kind, r.subject, r.rulebook, r.payload)
            if digest != r.hash:
                return Verification(False, count, r.seq, "content changed since it was written")
            seq, prev, count = r.seq, r.hash, count + 1
        last = rows[-1].seq
    head_seq, head_hash = _mark(conn, "head")
    if (head_seq, head_hash) != (seq, prev) and head_seq > 0:
        return Verification(False, count, seq + 1, f"entries after {seq} are missing")
    return Verification(True, count)


def purge(
    conn: Connection,
    before: datetime,
    retention_years: Callable[[str], int],
    now: datetime,
) -> int:
    """Remove the oldest entries dated before ``before`` whose rulebook's retention has run out,
    stopping at the first entry that must be kept; return how many were removed."""
    removed_upto: tuple[int, str] | None = None
    last, _ = _mark(conn, "anchor")
    while True:
        rows = conn.execute(
            select(t.audit_log.c.seq, t.audit_log.c.at, t.audit_log.c.rulebook, t.audit_log.c.hash)
            .where(t.audit_log.c.seq > last)
            .order_by(t.audit_log.c.seq)
            .limit(10_000)
        ).all()
        if not rows:
            break
        stop = False
        for r in rows:
            at = as_utc(r.at)
            if at >= before or _add_years(at, retention_years(r.rulebook)) > now:
                stop = True
                break
            removed_upto = (int(r.seq), str(r.hash))
        if stop:
            break
        last = rows[-1].seq
    if removed_upto is None:
        return 0
    n = conn.execute(delete(t.audit_log).where(t.audit_log.c.seq <= removed_upto[0])).rowcount
    _set_mark(conn, "anchor", *removed_upto)
    return int(n)


def _add_years(at: datetime, years: int) -> datetime:
    try:
        return at.replace(year=at.year + years)
    except ValueError:  # 29 February
        return at.replace(year=at.year + years, day=28)


def count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(t.audit_log)).scalar_one())
