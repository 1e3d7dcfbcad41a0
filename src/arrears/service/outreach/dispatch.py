"""The dispatcher: works the day's plan, message by message, exactly once.

A round takes a batch of actions whose window is open now (in the borrower's local time; the
plan holds each window as UTC instants) and leases them (:mod:`.lease`). Then, for each action:

1. **A second look** (:mod:`.pending`): the account is read again from the store and judged as
   the cycle would judge it now: a loan that left its stage (paid, cured) or that a
   suppression now covers (a payment today, a promise, a hold) is *cancelled*; a compliance
   rule that refuses the contact now (an opt-out, a hold, the day's frequency cap) cancels it,
   or *moves* it to the rule's earliest allowed instant when that is still inside the window.
2. **Prepare** (:mod:`.prepare`), in one transaction: the message is rendered with a fresh
   verification code, and the contact attempt, the code and the message itself
   (``outbox_message``) are written, and the action becomes ``sending``. A lease lost in the
   meantime (another dispatcher, or a cycle re-run replacing the action) fences the write:
   nothing is prepared twice.
3. **Send** (:mod:`.send`) with the action's id as the idempotency key; several sender threads
   per process.
4. **Record** (:mod:`.record`): ``sent`` with the provider's reference (and an evidence entry in
   the audit log), or a retry after a backoff, or ``parked`` with the reason when it keeps
   failing or can never succeed.

A dispatcher killed between 2 and 4 leaves a ``sending`` action whose lease runs out; the next
one sends the *stored* message again under the same key (the provider drops the repeat), so
the borrower receives one message with one code, and the store holds one contact attempt. If
the window has closed by then, the message is parked as unconfirmed rather than sent late.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from arrears.bootstrap import App
from arrears.channels.base import Channel
from arrears.service.errors import Invalid

#: the contact point each channel sends to (push goes to the borrower's app account)
from arrears.service.outreach.lease import claim_batch, single_sqlite, wait_for_database
from arrears.service.outreach.pending import apply_verdicts, judge_actions
from arrears.service.outreach.prepare import Outgoing, Templates, prepare_batch, stored_messages
from arrears.service.outreach.record import record_batch
from arrears.service.outreach.send import send_one
from arrears.service.outreach.state import BODY, DB_GONE, HTML, SENDING, Options, Report
from arrears.service.outreach.templates import ensure_loaded, loan_facts
from arrears.service.store import require_current
from arrears.store import tables as t


def dispatch(
    app: App,
    channels: dict[str, Channel],
    opts: Options | None = None,
    progress: Callable[[Report], None] | None = None,
) -> Report:
    """Work the plan until nothing is ready (or forever with ``follow``)."""
    require_current(app)
    opts = opts or Options()
    missing = [c for c in opts.channels if c not in channels]
    if missing:
        raise Invalid(f"no adapter for {', '.join(missing)}")
    ensure_loaded(app)
    report = Report()
    templates = Templates(app)
    in_flight: list[Future[Outgoing]] = []

    def finish() -> bool:
        """Wait for the batch in flight and record it; False if there was none."""
        if not in_flight:
            return False
        done = [f.result() for f in in_flight]
        in_flight.clear()
        record_batch(app, done, app.clock(), opts.worker, opts, report)
        if progress is not None:
            progress(report)
        return True

    lost = 0  # database errors in a row
    # while one batch is with the providers, the next is claimed, judged and prepared
    with single_sqlite(app), ThreadPoolExecutor(max(1, opts.senders)) as pool:
        while opts.limit is None or report.handled < opts.limit:
            try:
                now = app.clock()
                rows = claim_batch(app, opts.worker, now, opts)
                if not rows:
                    if finish():
                        continue  # what it recorded may have made more ready (retries)
                    if not opts.follow:
                        break
                    time.sleep(opts.poll_seconds)
                    continue
                report.claimed += len(rows)
                outgoing = _ready(app, rows, now, opts, report, templates)
                finish()
                in_flight.extend(pool.submit(send_one, app, channels, o) for o in outgoing)
                lost = 0
            except DB_GONE:
                lost = wait_for_database(app, lost + 1)
        finish()
    return report


def _ready(
    app: App, rows: Sequence[Any], now: datetime, opts: Options, report: Report, templates: Any
) -> list[Outgoing]:
    """The claimed actions' messages: those prepared before (sent again under their key) and
    the fresh ones, judged again and prepared now."""
    fresh = [a for a in rows if a.status == "planned"]
    again = [a for a in rows if a.status == SENDING]
    outgoing = stored_messages(app, again, now, opts.worker, report)
    if fresh:
        verdicts = judge_actions(app, fresh, now)
        with app.engine.begin() as conn:
            apply_verdicts(app, conn, list(verdicts[0].values()), opts.worker, report)
        outgoing += prepare_batch(
            app, fresh, verdicts[0], verdicts[1], now, opts.worker, report, templates
        )
    return outgoing


def outbox_rows(app: App, day: date | None = None, limit: int = 20) -> list[dict[str, Any]]:
    """The latest messages of the outbox table (what went out), destinations masked."""
    ob = t.outbox_message
    q = select(ob).order_by(ob.c.created_at.desc(), ob.c.action_id).limit(limit)
    if day is not None:
        q = q.where(ob.c.business_date == day)
    with app.engine.connect() as conn:
        rows = conn.execute(q).mappings().all()
    return [
        {
            **{k: v for k, v in r.items() if k != "destination_enc"},
            "body": app.cipher.open_text(BODY, r["body"]),
            "html": app.cipher.open_text(HTML, r["html"]),
        }
        for r in rows
    ]


def letter_batch(app: App, day: date, folder: Path) -> Any:
    """The day's letters that went out, as one PDF and a CSV manifest for the print vendor."""
    from arrears.channels import letter

    ob = t.outbox_message
    with app.engine.connect() as conn:
        rows = conn.execute(
            select(
                ob.c.action_id,
                ob.c.loan_id,
                ob.c.destination_enc,
                ob.c.html,
                ob.c.body,
                ob.c.locale,
            )
            .where(ob.c.channel == "letter", ob.c.business_date == day, ob.c.status == "sent")
            .order_by(ob.c.action_id)
        ).all()
        facts = loan_facts(conn, sorted({r.loan_id for r in rows}))
    s = app.settings
    letters = []
    for r in rows:
        f = facts[r.loan_id]
        letters.append(
            letter.Letter(
                key=r.action_id,
                recipient=app.cipher.decrypt("borrower.name", f.name_enc) or "",
                address=app.cipher.decrypt("outbox.destination", r.destination_enc) or "",
                sender=f"{f.creditor} · {s.org_address}",
                body_html=app.cipher.open_text(HTML, r.html)
                or app.cipher.open_text(BODY, r.body)
                or "",
                locale=r.locale,
            )
        )
    return letter.write_batch(letters, folder, f"letters-{day.isoformat()}")
