"""Key rotation: seal every stored personal field again under the current data key.

Set the new key as ``ARREARS_DATA_KEY`` and the old one in ``ARREARS_OLD_DATA_KEYS``, then run
``arrears keys rotate``. Each table is walked in primary-key order, a batch a transaction: every
sealed value not under the current key (or from before randomised sealing, or a text column
written before sealing) is opened and sealed again, and every lookup hash is computed again
from the plaintext. A batch commits whole or not at all, so the command can be stopped and run
again: it picks up what is left. ``arrears keys status`` counts what is left; remove the old key
from ``ARREARS_OLD_DATA_KEYS`` only when nothing is.

Verification codes and portal sign-in codes are kept only as hashes (their plaintext went to
the borrower): a code issued before the rotation answers while its key is in
``ARREARS_OLD_DATA_KEYS`` (codes answer for ``ARREARS_VERIFICATION_DAYS``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, select, update

from arrears.bootstrap import App
from arrears.service.cases.evidence import COLUMN as EVIDENCE
from arrears.service.outreach.state import BODY, HTML
from arrears.service.outreach.verify import CONTENT
from arrears.service.store import require_current
from arrears.store import tables as t
from arrears.store.crypto import Cipher


@dataclass(frozen=True)
class Target:
    """A table's sealed columns: (column, associated data), binary or text."""

    table: Table
    key: str
    sealed: tuple[tuple[str, str], ...] = ()
    texts: tuple[tuple[str, str], ...] = ()


TARGETS = (
    Target(t.borrower, "borrower_id",
           sealed=(("name_enc", "borrower.name"), ("national_id_enc", "borrower.national_id"))),
    Target(t.contact_point, "contact_id",
           sealed=(("value_enc", "contact_point.value"),
                   ("owner_name_enc", "contact_point.owner_name"))),
    Target(t.outbox_message, "action_id", sealed=(("destination_enc", "outbox.destination"),),
           texts=(("body", BODY), ("html", HTML))),
    Target(t.contact_attempt, "attempt_id", texts=(("content", CONTENT),)),
    Target(t.complaint_evidence, "evidence_id", sealed=(("data_enc", EVIDENCE),)),
)  # fmt: skip

Progress = Callable[[str, int], None]


def _stale(c: Cipher, target: Target, row: Any) -> bool:
    return not all(c.is_current(getattr(row, col)) for col, _ in target.sealed) or not all(
        c.text_is_current(getattr(row, col)) for col, _ in target.texts
    )


def _reseal(c: Cipher, target: Target, row: Any) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for col, aad in target.sealed:
        blob = getattr(row, col)
        if blob is not None and not c.is_current(blob):
            if target.table is t.complaint_evidence:
                values[col] = c.encrypt_bytes(aad, c.decrypt_bytes(aad, blob))
            else:
                values[col] = c.encrypt(aad, c.decrypt(aad, blob))
    for col, aad in target.texts:
        text = getattr(row, col)
        if not c.text_is_current(text):
            values[col] = c.seal_text(aad, c.open_text(aad, text))
    if target.table is t.borrower and "national_id_enc" in values:
        values["national_id_hash"] = c.lookup_hash(
            "national_id", c.decrypt("borrower.national_id", row.national_id_enc)
        )
    if target.table is t.contact_point and "value_enc" in values:
        values["value_hash"] = c.lookup_hash(
            row.kind, c.decrypt("contact_point.value", row.value_enc)
        )
    return values


def _moved_hashes(conn: Connection, c: Cipher, borrowers: set[str]) -> dict[str, str]:
    """Old lookup hash -> current, for the contact points of ``borrowers`` (what a contact
    attempt's destination hash was computed from)."""
    cp = t.contact_point
    out: dict[str, str] = {}
    for row in conn.execute(
        select(cp.c.kind, cp.c.value_enc).where(cp.c.borrower_id.in_(sorted(borrowers)))
    ):
        value = c.decrypt("contact_point.value", row.value_enc)
        hashes = c.lookup_hashes(row.kind, value)
        for old in hashes[1:]:
            out[old] = hashes[0]
    return out


def rotate(app: App, batch: int = 1000, progress: Progress | None = None) -> dict[str, int]:
    """Seal again what is not under the current key; how many rows each table changed."""
    require_current(app)
    c = app.cipher
    done: dict[str, int] = {}
    for target in TARGETS:
        key = target.table.c[target.key]
        after: Any = None
        changed = 0
        while True:
            with app.engine.begin() as conn:
                q = select(target.table).order_by(key).limit(batch)
                if after is not None:
                    q = q.where(key > after)
                rows = conn.execute(q).all()
                if not rows:
                    break
                moved: dict[str, str] = {}
                if target.table is t.contact_attempt:
                    moved = _moved_hashes(conn, c, {r.borrower_id for r in rows})
                for row in rows:
                    values = _reseal(c, target, row) if _stale(c, target, row) else {}
                    old = getattr(row, "destination_hash", None)
                    if target.table is t.contact_attempt and old in moved:
                        values["destination_hash"] = moved[old]
                    if values:
                        conn.execute(
                            update(target.table)
                            .where(key == getattr(row, target.key))
                            .values(**values)
                        )
                        changed += 1
                after = getattr(rows[-1], target.key)
            if progress:
                progress(target.table.name, len(rows))
        done[target.table.name] = changed
    return done


def status(app: App) -> dict[str, tuple[int, int]]:
    """Each table: (rows, rows still sealed under an old key or not sealed the current way)."""
    require_current(app)
    c = app.cipher
    out: dict[str, tuple[int, int]] = {}
    with app.engine.connect() as conn:
        for target in TARGETS:
            total = stale = 0
            cols = [target.table.c[col] for col, _ in (*target.sealed, *target.texts)]
            for row in conn.execute(select(target.table.c[target.key], *cols)):
                total += 1
                stale += _stale(c, target, row)
            out[target.table.name] = (total, stale)
    return out
