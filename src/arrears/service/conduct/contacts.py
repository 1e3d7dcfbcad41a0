"""A person's contact (an agent call, a visit) judged by the gate at the instant it was made,
as a message is at the instant it is sent: the borrower's hours in every candidate timezone,
the agreed window, frequency caps across the lender and its agencies, holds, consent, and for
a visit the two collectors. What is refused is refused with its reasons and the instant it
becomes allowed; what the lender's policy records anyway is a breach, with a conduct alert."""

from __future__ import annotations

import dataclasses
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, insert, select

from arrears.bootstrap import App
from arrears.compliance import gate
from arrears.compliance.conduct.screen import check as screen
from arrears.compliance.facts import CALLS, RESULTS, Request, Violation
from arrears.service.cases.policy import load_policy
from arrears.service.errors import Conflict, Invalid
from arrears.service.outreach.call_state import account_for
from arrears.store import tables as t
from arrears.store.db import as_utc


@dataclass(frozen=True)
class Judgement:
    """The gate's answer for a person's contact: ``refusals`` (none: allowed), when it would
    be allowed (None: not by time alone), the borrower's timezone and the lender's policy for
    contacts outside the rules."""

    at: datetime
    timezone: str
    refusals: tuple[Violation, ...]
    earliest: datetime | None
    policy: str  # refuse | record_as_breach
    rulebook: str

    @property
    def allowed(self) -> bool:
        return not self.refusals

    def reasons(self, lang: str = "en") -> str:
        sep = "；" if lang.startswith("zh") else "; "
        return sep.join(
            f"{v.rule}: {v.reason_zh if lang.startswith('zh') else v.reason}" for v in self.refusals
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "allowed": self.allowed,
            "at": self.at.isoformat(),
            "timezone": self.timezone,
            "rules": [v.rule for v in self.refusals],
            "earliest_allowed_at": self.earliest.isoformat() if self.earliest else None,
            "rulebook": self.rulebook,
        }


def _dialled(app: App, req: Request, borrower_id: str, destination: str) -> Request:
    """``req`` as a dial to ``destination`` (a number's keyed hash): the attempt names it and
    the day's calls carry the numbers they went to, so the per-number dial limit applies."""
    ca = t.contact_attempt
    since = req.attempt.at - timedelta(days=2)
    with app.engine.connect() as conn:
        rows = conn.execute(
            select(ca.c.channel, ca.c.at, ca.c.destination_hash).where(
                ca.c.borrower_id == borrower_id,
                ca.c.at >= since,
                ca.c.channel.in_(sorted(CALLS)),
                ca.c.destination_hash.is_not(None),
            )
        ).all()
    to = {(r.channel, as_utc(r.at)): r.destination_hash for r in rows}
    history = tuple(
        dataclasses.replace(e, destination=to.get((e.kind, e.at), e.destination))
        if e.kind in CALLS
        else e
        for e in req.history
    )
    attempt = dataclasses.replace(req.attempt, destination=destination)
    return dataclasses.replace(req, attempt=attempt, history=history)


def judge(
    app: App,
    loan_id: str,
    channel: str,
    at: datetime,
    *,
    collectors: int = 1,
    destination: str | None = None,
) -> Judgement | None:
    """The gate's answer for a ``channel`` contact (``agent_call`` or ``visit``) with the
    borrower of ``loan_id`` at ``at``, made by ``collectors`` people (a dial: to the number
    whose keyed hash is ``destination``); None when the loan is not in the store."""
    found = account_for(app, loan_id, channel)
    if found is None:
        return None
    acct, bare = found
    step = dataclasses.replace(bare, collectors=collectors)
    with app.engine.connect() as conn:
        portfolio = conn.execute(
            select(t.loan.c.portfolio_id).where(t.loan.c.loan_id == loan_id)
        ).scalar()
    req = acct.request(step, at)
    if destination is not None:
        req = _dialled(app, req, acct.row["borrower_id"], destination)
    decision = gate.check(req, acct.book)
    policy = load_policy(app.settings.collections_policy_file)
    rules = policy.for_portfolio(portfolio) if portfolio else policy.default
    return Judgement(
        at=at,
        timezone=acct.tz.key,
        refusals=tuple(decision.violations),
        earliest=None if decision.allowed else decision.earliest_allowed_at,
        policy=rules.conduct.out_of_policy_contact,
        rulebook=acct.book.id,
    )


def raise_alert(
    conn: Connection,
    *,
    kind: str,
    at: datetime,
    rules: list[dict[str, Any]],
    detail: str,
    detail_zh: str,
    loan_id: str | None = None,
    borrower_id: str | None = None,
    attempt_id: str | None = None,
    collector_id: str | None = None,
    agency: str | None = None,
) -> str:
    """A conduct alert for compliance review (in the caller's transaction); its id."""
    alert_id = f"al-{uuid.uuid4().hex}"
    conn.execute(
        insert(t.conduct_alert).values(
            alert_id=alert_id,
            kind=kind,
            loan_id=loan_id,
            borrower_id=borrower_id,
            attempt_id=attempt_id,
            collector_id=collector_id,
            agency=agency,
            rules=json.dumps(rules, ensure_ascii=False, sort_keys=True),
            detail=detail,
            detail_zh=detail_zh,
            raised_at=at,
            status="open",
        )
    )
    return alert_id


class Refused(Conflict):
    """A person's contact the gate refuses: the reasons and when it becomes allowed, in the
    reader's language (:meth:`said`)."""

    def __init__(self, channel: str, judgement: Judgement) -> None:
        self.channel = channel
        self.judgement = judgement
        super().__init__(self.said("en"), field="at")

    def said(self, lang: str) -> str:
        j = self.judgement
        zone = ZoneInfo(j.timezone)
        local = j.at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
        when = j.earliest.astimezone(zone).strftime("%Y-%m-%d %H:%M") if j.earliest else None
        if lang.startswith("zh"):
            what = _ZH_CHANNEL.get(self.channel, "联系")
            later = f"最早可于 {when} 联系" if when else "仅凭时间推移不会变为允许"
            return f"{local}（{j.timezone}）不允许{what}：{j.reasons('zh')}；{later}；未做任何记录"
        later = f"allowed from {when}" if when else "no time alone makes it allowed"
        return (
            f"at: a {self.channel} at {local} ({j.timezone}) is not allowed: {j.reasons()}; "
            f"{later}; nothing was recorded"
        )


_ZH_CHANNEL = {"call": "拨打电话", "visit": "上门拜访"}


def refusal(channel: str, j: Judgement) -> Refused:
    """The refusal of a ``channel`` contact the gate does not allow."""
    return Refused(channel, j)


def check_inputs(
    result: str, note: str | None, collector_id: str, companion_id: str | None
) -> None:
    """The result a code of the list, the note past the screen, the companion another person."""
    if result not in RESULTS:
        raise Invalid(
            f"result: expected one of {', '.join(RESULTS)}, got {result!r}", field="result"
        )
    if note:
        screened = screen(note)
        if screened.flagged:
            raise Invalid(
                f"note: prohibited language: {screened.summary('en')}; nothing was recorded",
                field="note",
            )
    if companion_id is not None and companion_id == collector_id:
        raise Invalid(
            "companion_id: the second collector must be another person", field="companion_id"
        )
