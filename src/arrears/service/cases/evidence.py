"""Evidence a borrower attaches to a complaint: photos, recordings and PDFs.

A file is accepted by what its bytes are, never by its name or the type the browser claims:
the first bytes must be those of one of :data:`KINDS`. Each file is at most
:data:`MAX_BYTES`, a complaint takes at most :data:`MAX_FILES`. Files are kept in the store,
encrypted (AES-SIV, bound to the column), under an id of ours; the name the borrower gave is
kept only as a label, cleaned. Every file of an upload is checked before anything is written.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select

from arrears.bootstrap import App
from arrears.service.errors import Invalid
from arrears.store import audit
from arrears.store import tables as t

MAX_BYTES = 10 * 1024 * 1024
MAX_FILES = 5
COLUMN = "complaint_evidence.data"


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes


def _ftyp(data: bytes) -> str | None:
    if data[4:8] != b"ftyp":
        return None
    brand = data[8:12]
    if brand in (b"M4A ", b"M4B "):
        return "audio/mp4"
    return "audio/mp4" if brand in (b"isom", b"mp42", b"3gp4", b"3gp5") else None


def sniff(data: bytes) -> str | None:
    """The type of a file from its first bytes, if it is one we take."""
    head = data[:16]
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "audio/wav"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"ID3") or head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return "audio/mpeg"
    if head.startswith(b"#!AMR"):
        return "audio/amr"
    if head.startswith(b"OggS"):
        return "audio/ogg"
    return _ftyp(data)


def clean_name(name: str) -> str:
    base = re.split(r"[\\/]", name)[-1]
    base = re.sub(r"[^\w.\- ]+", "_", base).strip(" .")
    return (base or "file")[:100]


def check(uploads: list[Upload], already: int = 0) -> list[tuple[Upload, str]]:
    """Each upload with its type, or the first problem, naming the file."""
    if already + len(uploads) > MAX_FILES:
        raise Invalid(f"evidence: at most {MAX_FILES} files a complaint", field="evidence")
    out = []
    for u in uploads:
        if not u.data:
            raise Invalid(f"evidence {clean_name(u.filename)}: the file is empty", field="evidence")
        if len(u.data) > MAX_BYTES:
            raise Invalid(
                f"evidence {clean_name(u.filename)}: {len(u.data)} bytes; at most "
                f"{MAX_BYTES // (1024 * 1024)} MB a file",
                field="evidence",
            )
        kind = sniff(u.data)
        if kind is None:
            raise Invalid(
                f"evidence {clean_name(u.filename)}: not a photo (JPEG, PNG, "
                "WebP), a recording (MP3, M4A, WAV, AMR, Ogg) or a PDF",
                field="evidence",
            )
        out.append((u, kind))
    return out


def attach(app: App, complaint_id: str, uploads: list[Upload]) -> list[str]:
    """Store the files of ``uploads`` with the complaint, all or none; their ids."""
    ev = t.complaint_evidence
    with app.engine.connect() as conn:
        have = (
            conn.execute(
                select(func.count()).select_from(ev).where(ev.c.complaint_id == complaint_id)
            ).scalar()
            or 0
        )
    checked = check(uploads, int(have))
    now = app.clock()
    rows = [
        {
            "evidence_id": f"ev-{uuid.uuid4().hex[:16]}",
            "complaint_id": complaint_id,
            "filename": clean_name(u.filename),
            "content_type": kind,
            "size": len(u.data),
            "sha256": hashlib.sha256(u.data).hexdigest(),
            "data_enc": app.cipher.encrypt_bytes(COLUMN, u.data),
            "uploaded_at": now,
        }
        for u, kind in checked
    ]
    if not rows:
        return []
    with app.engine.begin() as conn:
        conn.execute(insert(ev), rows)
        audit.record(
            conn,
            "complaint_evidence",
            complaint_id,
            now,
            {
                "files": [
                    [r["evidence_id"], r["sha256"], r["content_type"], r["size"]] for r in rows
                ]
            },
        )
    return [str(r["evidence_id"]) for r in rows]


def evidence_of(app: App, complaint_id: str) -> list[dict[str, Any]]:
    ev = t.complaint_evidence
    with app.engine.connect() as conn:
        rows = (
            conn.execute(
                select(
                    ev.c.evidence_id,
                    ev.c.filename,
                    ev.c.content_type,
                    ev.c.size,
                    ev.c.sha256,
                    ev.c.uploaded_at,
                )
                .where(ev.c.complaint_id == complaint_id)
                .order_by(ev.c.uploaded_at, ev.c.evidence_id)
            )
            .mappings()
            .all()
        )
    return [dict(r) for r in rows]


def evidence_file(app: App, evidence_id: str) -> tuple[dict[str, Any], bytes] | None:
    """A file's facts (with its complaint's borrower) and its bytes, or None."""
    ev, cp = t.complaint_evidence, t.complaint
    with app.engine.connect() as conn:
        row = (
            conn.execute(
                select(ev, cp.c.borrower_id)
                .join(cp, cp.c.complaint_id == ev.c.complaint_id)
                .where(ev.c.evidence_id == evidence_id)
            )
            .mappings()
            .first()
        )
    if row is None:
        return None
    facts = {
        k: row[k]
        for k in (
            "evidence_id",
            "complaint_id",
            "borrower_id",
            "filename",
            "content_type",
            "size",
            "sha256",
        )
    }
    return facts, app.cipher.decrypt_bytes(COLUMN, row["data_enc"])
