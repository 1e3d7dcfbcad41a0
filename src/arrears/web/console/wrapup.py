"""What a wrap-up form gives beyond the result and the note: what the contact came to, the
borrower's reason, a call-back at the borrower's local time, and a promise typed in yuan."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from arrears.bootstrap import App
from arrears.service.borrower.selfserve import to_fen
from arrears.service.cases.promises import Part
from arrears.service.conduct.dispositions import Wrap
from arrears.service.errors import Invalid
from arrears.service.queries.loans import borrower_timezone


def promise_of(form: Any) -> list[Part]:
    """The promise a wrap-up took: an amount in yuan and a date, or none."""
    amount, when = str(form.get("promise_amount") or ""), str(form.get("promise_date") or "")
    if not amount and not when:
        return []
    if not amount or not when:
        field = "promise_date" if amount else "promise_amount"
        raise Invalid(f"{field}: a promise needs both an amount and a date", field=field)
    try:
        day = date.fromisoformat(when)
    except ValueError as exc:
        raise Invalid(f"promise_date: {when!r} is not a date", field="promise_date") from exc
    return [Part(day, to_fen(amount, "promise_amount"))]


def wrap_of(app: App, loan_id: str, form: Any) -> Wrap:
    """The disposition, reason and call-back a wrap-up form gives; the call-back's time is the
    borrower's local time."""
    back = str(form.get("call_back_at") or "").strip()
    at = None
    if back:
        try:
            local = datetime.fromisoformat(back)
        except ValueError as exc:
            raise Invalid(f"call_back_at: {back!r} is not a time", field="call_back_at") from exc
        at = local if local.tzinfo else local.replace(tzinfo=borrower_timezone(app, loan_id))
    return Wrap(
        str(form.get("disposition") or "") or None,
        str(form.get("reason") or "") or None,
        at,
    )


def promise_fits(result: str, wrap: Wrap) -> None:
    """A promise is taken from the borrower: the call was answered and, when a disposition is
    given, it is a promise or another right-party one that does not stop collection."""
    from arrears.compliance.facts import CONNECTED
    from arrears.domain.dispositions import HOLDS, RIGHT_PARTY

    d = wrap.disposition
    if result not in CONNECTED or (d is not None and (d not in RIGHT_PARTY or d in HOLDS)):
        raise Invalid(
            "promise_amount: a promise is taken from the borrower on an answered call "
            f"(here: {result}{', ' + d if d else ''})",
            field="promise_amount",
        )
