"""Find an account by what a caller or a colleague gives: a loan reference, a borrower id, a
phone number or a national id. Phone numbers and national ids are kept encrypted with a keyed
hash beside them, so they are found by an exact match of that hash (never by scanning clear
text); spaces, dashes and the +86 prefix do not matter. Results are what the user may open
(:mod:`.scope`): an account outside their scope is not listed, and nothing hints that it
exists. A lookup by phone or national id is written to the access log."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select

from arrears.bootstrap import App
from arrears.service.errors import Invalid
from arrears.service.staff.scope import in_scope
from arrears.service.staff.users import Staff, log_access
from arrears.store import tables as t

#: the most results one search shows
LIMIT = 50


@dataclass(frozen=True)
class Hit:
    loan_id: str
    borrower_id: str
    matched: str  # loan_id | borrower_id | phone | national_id
    stage: str | None  # the collection stage, None when not in collection


def search(app: App, user: Staff, query: str) -> list[Hit]:
    """The accounts ``query`` names that ``user`` may open, by loan id."""
    q = query.strip()
    if not q or len(q) > 64:
        raise Invalid("q: give a loan reference, borrower id, phone or national id", field="q")
    found: dict[str, tuple[str, str]] = {}  # loan_id -> (borrower_id, matched)
    personal: set[str] = set()
    with app.engine.connect() as conn:
        ln, b, cp = t.loan, t.borrower, t.contact_point
        for loan_id, borrower_id in conn.execute(
            select(ln.c.loan_id, ln.c.borrower_id).where(ln.c.loan_id == q)
        ):
            found[loan_id] = (borrower_id, "loan_id")
        owners: list[tuple[str, str]] = [(q, "borrower_id")]
        phones = app.cipher.lookup_hashes("phone", q)
        if phones:
            owners += [
                (str(r), "phone")
                for r in conn.execute(
                    select(cp.c.borrower_id).where(
                        cp.c.kind == "phone",
                        cp.c.owner_role == "borrower",
                        cp.c.value_hash.in_(phones),
                    )
                ).scalars()
            ]
        ids = app.cipher.lookup_hashes("national_id", re.sub(r"[\s-]", "", q))
        if ids:
            owners += [
                (str(r), "national_id")
                for r in conn.execute(
                    select(b.c.borrower_id).where(b.c.national_id_hash.in_(ids))
                ).scalars()
            ]
        for borrower_id, how in owners:
            rows = conn.execute(
                select(ln.c.loan_id).where(ln.c.borrower_id == borrower_id).limit(LIMIT)
            ).scalars()
            for loan_id in rows:
                found.setdefault(loan_id, (borrower_id, how))
                if how in ("phone", "national_id"):
                    personal.add(borrower_id)
        stages = dict(
            conn.execute(
                select(t.account_stage.c.loan_id, t.account_stage.c.stage).where(
                    t.account_stage.c.loan_id.in_(sorted(found))
                )
            ).all()
        )
    hits = [
        Hit(loan_id, borrower_id, how, stages.get(loan_id))
        for loan_id, (borrower_id, how) in sorted(found.items())
        if in_scope(app, user, loan_id)
    ][:LIMIT]
    for borrower_id in sorted(personal & {h.borrower_id for h in hits}):
        log_access(app, user, borrower_id, "search", unmasked=False)
    return hits
