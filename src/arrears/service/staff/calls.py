"""Calls as people may see them: who may dial an account (the roles that call, on accounts in
their scope), who follows a call (whoever dialled it), who may hear a recording and read a
transcript in clear (compliance and supervisors; other roles read transcripts masked)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from arrears.bootstrap import App
from arrears.service.conduct import calls, inspection
from arrears.service.errors import Forbidden, NotFound
from arrears.service.staff.account_view import known_of
from arrears.service.staff.masking import mask_text
from arrears.service.staff.scope import in_scope
from arrears.service.staff.users import Staff

#: the roles that dial borrowers
DIALLERS = frozenset({"collector", "field_agent", "supervisor", "agency"})
#: the roles that may hear recordings and read transcripts in clear
HEARERS = frozenset({"compliance", "supervisor", "admin"})


def seat(user: Staff) -> str:
    """The collector's seat (staff number) the dialer rings first."""
    return user.collector_id or user.username


def dial(app: App, user: Staff, loan_id: str, action_id: str | None = None) -> calls.Dialled:
    """Dial ``loan_id`` for ``user``: refused for a role that does not call, and (with no hint
    that the account exists) for an account outside their scope."""
    if user.role not in DIALLERS:
        raise Forbidden(f"role: a {user.role} does not dial borrowers", field="role")
    if not in_scope(app, user, loan_id):
        raise NotFound(f"loan_id: {loan_id} is not an account of yours", field="loan_id")
    return calls.dial(
        app, loan_id, collector_id=seat(user), agency=user.agency, action_id=action_id
    )


def my_call(app: App, user: Staff, attempt_id: str) -> inspection.CallRecord:
    """A call ``user`` dialled (its words masked unless their role may read them), or one any
    hearer may review."""
    record = inspection.call_record(app, attempt_id)
    if user.role in HEARERS:
        return record
    if record.collector_id != seat(user):
        raise NotFound(f"attempt_id: {attempt_id} is not a call of yours", field="attempt_id")
    return masked(app, record)


def masked(app: App, record: inspection.CallRecord) -> inspection.CallRecord:
    """The record with names, numbers, ids and addresses masked inside what was said."""
    known = known_of(app, record.borrower_id)
    lines: list[dict[str, Any]] = [
        {**s, "text": mask_text(str(s.get("text", "")), known)} for s in record.segments
    ]
    card = record.scorecard
    if card is not None:
        card = {
            **card,
            "findings": [
                {**f, "words": mask_text(str(f.get("words", "")), known)}
                for f in card.get("findings", [])
            ],
        }
    return replace(record, segments=lines, scorecard=card)


def hear(app: App, user: Staff, attempt_id: str) -> tuple[bytes, str]:
    """A recording, for the roles allowed to hear it."""
    if user.role not in HEARERS:
        raise Forbidden(f"role: a {user.role} may not hear call recordings", field="role")
    return inspection.audio(app, attempt_id)


def number_shown(app: App, record: inspection.CallRecord) -> str:
    """The number a call went to, as a collector may see it (masked)."""
    return calls.masked_number(app, record.borrower_id)
