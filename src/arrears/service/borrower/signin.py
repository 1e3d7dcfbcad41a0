"""Signing in to the portal with a one-time code sent by SMS, and the session that follows
(only its hash is stored; use keeps it alive; signing out ends it).

Sign-in never says whether a loan reference or national ID is known: an unknown one, a
borrower without a mobile number and one who asked for too many codes all get the same
answer, and no SMS. A code is six digits, answers for :data:`CODE_MINUTES`, once, and for at
most :data:`CODE_TRIES` guesses; only its keyed hash is stored. A borrower is sent at most
:data:`CODES_PER_HOUR` codes an hour.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select, update

from arrears.bootstrap import App
from arrears.channels.base import Channel, Message, SendFailed
from arrears.service.store import require_current
from arrears.store import audit
from arrears.store import tables as t
from arrears.store.crypto import mask_phone
from arrears.store.db import as_utc

CODE_MINUTES = 5


CODE_TRIES = 5


CODES_PER_HOUR = 3


SESSION_MINUTES = 30


def _digest(app: App, kind: str, secret: str) -> str:
    found = app.cipher.lookup_hash(kind, secret)
    assert found is not None  # never empty
    return found


def find_borrower(app: App, ref: str) -> str | None:
    """The borrower a loan reference or a national ID belongs to, or None."""
    ref = ref.strip()
    if not ref or len(ref) > 64:
        return None
    with app.engine.connect() as conn:
        owner = conn.execute(select(t.loan.c.borrower_id).where(t.loan.c.loan_id == ref)).scalar()
        if owner is None:
            owner = conn.execute(
                select(t.borrower.c.borrower_id).where(
                    t.borrower.c.national_id_hash.in_(app.cipher.lookup_hashes("national_id", ref))
                )
            ).scalar()
    return None if owner is None else str(owner)


def mobile_of(app: App, conn: Any, borrower_id: str) -> str | None:
    cp = t.contact_point
    row = conn.execute(
        select(cp.c.value_enc)
        .where(
            cp.c.borrower_id == borrower_id,
            cp.c.kind == "phone",
            cp.c.owner_role == "borrower",
            cp.c.is_valid,
        )
        .order_by(cp.c.is_primary.desc(), cp.c.contact_id)
        .limit(1)
    ).first()
    return None if row is None else app.cipher.decrypt("contact_point.value", row.value_enc)


def _code_text(code: str, locale: str, creditor: str) -> str:
    if locale.startswith("zh"):
        return (
            f"【{creditor}】您的自助服务登录验证码为 {code}，{CODE_MINUTES}分钟内有效。"
            "请勿告诉任何人，我们的工作人员不会向您索要验证码。"
        )
    return (
        f"{creditor}: your sign-in code is {code}, valid for {CODE_MINUTES} minutes. "
        "Never share it: our staff will never ask you for it."
    )


def send_code(app: App, ref: str, sms: Channel) -> None:
    """Send a sign-in code to the mobile number of the borrower ``ref`` names, if any; the
    caller answers the same whatever happens here."""
    require_current(app)
    borrower_id = find_borrower(app, ref)
    if borrower_id is None:
        return
    now = app.clock()
    pc = t.portal_code
    with app.engine.connect() as conn:
        phone = mobile_of(app, conn, borrower_id)
        who = conn.execute(
            select(t.borrower.c.locale, t.portfolio.c.creditor)
            .join(t.loan, t.loan.c.borrower_id == t.borrower.c.borrower_id)
            .join(t.portfolio, t.portfolio.c.portfolio_id == t.loan.c.portfolio_id)
            .where(t.borrower.c.borrower_id == borrower_id)
            .limit(1)
        ).first()
    if phone is None or who is None:
        return
    code = f"{secrets.randbelow(10**6):06d}"
    code_id = f"pc-{uuid.uuid4().hex[:16]}"
    with app.engine.begin() as conn:
        # the hour's count and the new code are one unit, serialised per borrower: requests
        # at once (the answer goes before the work) cannot all see fewer than the limit.
        # The first statement writes, so SQLite takes its write lock here; PostgreSQL locks
        # the borrower's row.
        conn.execute(delete(pc).where(pc.c.expires_at < now - timedelta(days=1)))
        if conn.dialect.name == "postgresql":
            b = t.borrower
            conn.execute(
                select(b.c.borrower_id).where(b.c.borrower_id == borrower_id).with_for_update()
            )
        recent = conn.execute(
            select(func.count())
            .select_from(pc)
            .where(pc.c.borrower_id == borrower_id, pc.c.issued_at > now - timedelta(hours=1))
        ).scalar()
        if (recent or 0) >= CODES_PER_HOUR:
            return
        conn.execute(
            insert(pc).values(
                code_id=code_id,
                borrower_id=borrower_id,
                code_hash=_digest(app, "portal_code", code),
                issued_at=now,
                expires_at=now + timedelta(minutes=CODE_MINUTES),
                tries=0,
            )
        )
        audit.record(
            conn, "portal_code", borrower_id, now, {"code_id": code_id, "to": mask_phone(phone)}
        )
    message = Message(
        idempotency_key=code_id,
        channel="sms",
        destination=phone,
        body=_code_text(code, who.locale, who.creditor),
        locale=who.locale,
        metadata={"day": app.today().isoformat(), "purpose": "portal_code"},
    )
    try:
        sms.send(message)
    except SendFailed:
        return  # the borrower asks again; the answer does not change


@dataclass(frozen=True)
class Session:
    borrower_id: str
    csrf: str


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def sign_in(app: App, ref: str, code: str) -> tuple[str, Session] | None:
    """A new session (the cookie's token) when ``code`` is the live code of the borrower
    ``ref`` names; None otherwise. Each try uses up one of the code's guesses."""
    require_current(app)
    borrower_id = find_borrower(app, ref)
    code = re.sub(r"\s", "", code)
    if borrower_id is None or not re.fullmatch(r"\d{6}", code):
        return None
    now = app.clock()
    pc = t.portal_code
    with app.engine.begin() as conn:
        live = conn.execute(
            select(pc)
            .where(
                pc.c.borrower_id == borrower_id,
                pc.c.used_at.is_(None),
                pc.c.expires_at > now,
                pc.c.tries < CODE_TRIES,
            )
            .order_by(pc.c.issued_at.desc())
            .limit(1)
        ).first()
        if live is None:
            return None
        right = hmac.compare_digest(live.code_hash, _digest(app, "portal_code", code))
        # the count goes up only while guesses are left and the code is unused: two tries at
        # once cannot both take the last guess, nor both use the code
        counted = conn.execute(
            update(pc)
            .where(
                pc.c.code_id == live.code_id,
                pc.c.tries < CODE_TRIES,
                pc.c.used_at.is_(None),
            )
            .values(tries=pc.c.tries + 1, used_at=now if right else None)
        )
        if counted.rowcount != 1 or not right:
            return None
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        ps = t.portal_session
        conn.execute(delete(ps).where(ps.c.expires_at < now))
        conn.execute(
            insert(ps).values(
                token_hash=_token_digest(token),
                borrower_id=borrower_id,
                csrf=csrf,
                created_at=now,
                expires_at=now + timedelta(minutes=SESSION_MINUTES),
            )
        )
        audit.record(conn, "portal_sign_in", borrower_id, now, {"code_id": live.code_id})
    return token, Session(borrower_id, csrf)


def session_of(app: App, token: str) -> Session | None:
    """The live session of a cookie's token (each use keeps it alive), or None."""
    ps = t.portal_session
    now = app.clock()
    with app.engine.begin() as conn:
        row = conn.execute(select(ps).where(ps.c.token_hash == _token_digest(token))).first()
        if row is None or as_utc(row.expires_at) <= now:
            return None
        conn.execute(
            update(ps)
            .where(ps.c.token_hash == row.token_hash)
            .values(expires_at=now + timedelta(minutes=SESSION_MINUTES))
        )
    return Session(row.borrower_id, row.csrf)


def sign_out(app: App, token: str) -> None:
    ps = t.portal_session
    with app.engine.begin() as conn:
        conn.execute(delete(ps).where(ps.c.token_hash == _token_digest(token)))
