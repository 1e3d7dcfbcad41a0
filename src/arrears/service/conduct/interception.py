"""Live interception for robocalls and any bot that talks to borrowers: the bot asks before it
speaks each line; a line with prohibited language is not spoken and stops the call's script.
Every later line of that call is refused too, whatever it says. The stop raises a conduct alert
(kind ``language``) with the line's category and words, and goes into the evidence log.

The call is named by its contact attempt's id, or by the plan action's id for a robocall the
dispatcher placed."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import update

from arrears.bootstrap import App
from arrears.compliance.conduct.screen import NAMES
from arrears.compliance.conduct.screen import check as screen
from arrears.service.conduct.contacts import raise_alert
from arrears.service.conduct.inspection import call_of
from arrears.service.errors import Invalid
from arrears.service.store import require_current
from arrears.store import audit
from arrears.store import tables as t

STOPPED = "stopped"
#: the longest line a bot may ask about
MAX_LINE = 2000


@dataclass(frozen=True)
class LineVerdict:
    speak: bool  # say it
    stopped: bool  # the call's script is stopped (this line or an earlier one)
    category: str | None = None
    words: str | None = None


def line(app: App, reference: str, text: str) -> LineVerdict:
    """May the bot on call ``reference`` say ``text`` now?"""
    require_current(app)
    if not text.strip() or len(text) > MAX_LINE:
        raise Invalid(f"text: a line of 1 to {MAX_LINE} characters", field="text")
    with app.engine.connect() as conn:
        row = call_of(conn, reference)
    if row.dial_status == STOPPED:
        return LineVerdict(False, True)
    said = screen(text)  # outside the transaction: the screen takes its milliseconds first
    if not said.flagged:
        return LineVerdict(True, False)
    category = said.category or "threat"
    words = said.findings[0].words if said.findings else text
    ca = t.contact_attempt
    now = app.clock()
    with app.engine.begin() as conn:
        moved = conn.execute(
            update(ca)
            .where(ca.c.attempt_id == row.attempt_id, ca.c.dial_status.is_distinct_from(STOPPED))
            .values(dial_status=STOPPED)
        ).rowcount
        if moved == 1:  # the first prohibited line: logged and raised once
            en, zh = NAMES.get(category, (category, category))
            audit.append(
                conn,
                [
                    audit.Entry(
                        kind="live_interception",
                        subject=row.loan_id or row.borrower_id,
                        rulebook="",
                        payload={
                            "attempt_id": row.attempt_id,
                            "category": category,
                            "at": now.isoformat(),
                        },
                        at=now,
                    )
                ],
            )
            raise_alert(
                conn,
                kind="language",
                at=now,
                rules=[{"kind": "prohibited", "code": category}],
                detail=f"a bot's line was stopped on the call: {en}",
                detail_zh=f"机器人话术被实时拦截：{zh}",
                loan_id=row.loan_id,
                borrower_id=row.borrower_id,
                attempt_id=row.attempt_id,
                collector_id=row.collector_id,
            )
    return LineVerdict(False, True, category, words)
