"""Record what the providers said: ``sent`` with the provider's reference and an evidence entry,
a retry after a backoff, or ``parked`` with the reason."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, update

from arrears.bootstrap import App

#: the contact point each channel sends to (push goes to the borrower's app account)
from arrears.service.outreach.lease import end_message, release_lease
from arrears.service.outreach.prepare import Outgoing
from arrears.service.outreach.state import PARKED, SENDING, SENT, Options, Report
from arrears.store import audit
from arrears.store import tables as t


def backoff_for(opts: Options, tries: int) -> timedelta:
    return timedelta(seconds=min(opts.backoff_seconds * 2 ** max(tries - 1, 0), 3600.0))


def record_batch(
    app: App, done: Sequence[Outgoing], now: datetime, worker: str, opts: Options, report: Report
) -> None:
    pa_, ob, ca = t.plan_action, t.outbox_message, t.contact_attempt
    evidence: list[audit.Entry] = []
    with app.engine.begin() as conn:
        ok = [o for o in done if o.receipt is not None]
        took: set[str] = set()
        if ok:
            took = set(
                conn.execute(  # recorded once, by whichever dispatcher sent it first
                    update(pa_)
                    .where(pa_.c.action_id.in_([o.action_id for o in ok]), pa_.c.status == SENDING)
                    .values(
                        status=SENT,
                        sent_at=now,
                        lease_owner=None,
                        lease_until=None,
                        tries=func.coalesce(pa_.c.tries, 0) + 1,
                        last_error=None,
                    )
                    .returning(pa_.c.action_id)
                ).scalars()
            )
        report.fenced += len(ok) - len(took)
        mine = [o for o in ok if o.action_id in took]
        if mine:
            rows = [
                {
                    "k": o.action_id,
                    "att": o.attempt_id,
                    "p": o.receipt.provider,
                    "ref": o.receipt.provider_ref,
                    "st": o.receipt.status,
                }
                for o in mine
                if o.receipt is not None
            ]
            conn.execute(
                update(ob)
                .where(ob.c.action_id == bindparam("k"))
                .values(
                    status="sent",
                    provider=bindparam("p"),
                    provider_ref=bindparam("ref"),
                    sent_at=now,
                ),
                rows,
            )
            conn.execute(
                update(ca)
                .where(ca.c.attempt_id == bindparam("att"))
                .values(
                    provider=bindparam("p"), provider_ref=bindparam("ref"), result=bindparam("st")
                ),
                rows,
            )
        for o in mine:
            r = o.receipt
            assert r is not None
            evidence.append(
                audit.Entry(
                    kind="contact_attempt",
                    subject=o.loan_id,
                    rulebook="",
                    payload={
                        "attempt_id": o.attempt_id,
                        "action_id": o.action_id,
                        "channel": o.channel,
                        "provider": r.provider,
                        "provider_ref": r.provider_ref,
                        "content_sha256": hashlib.sha256(o.message.body.encode()).hexdigest(),
                    },
                    at=now,
                )
            )
            report.sent += 1
            report.by_channel[o.channel] += 1
        for o in done:
            if o.receipt is not None:
                continue
            failure = o.failure
            assert failure is not None
            tries = o.tries + 1
            if failure.retry and tries < opts.max_tries:
                if release_lease(
                    conn,
                    o.action_id,
                    worker,
                    tries=tries,
                    last_error=failure.reason,
                    next_try_at=now + backoff_for(opts, tries),
                ):
                    report.retried += 1
                else:
                    report.fenced += 1
                continue
            reason = failure.reason if not failure.retry else f"{tries} tries: {failure.reason}"
            if release_lease(
                conn, o.action_id, worker, status=PARKED, tries=tries, last_error=reason
            ):
                result = "bounced" if o.channel == "email" and not failure.retry else "failed"
                end_message(conn, o.action_id, o.attempt_id, "parked", result, reason)
                report.parked += 1
                report.by_rule["parked: " + ("refused" if not failure.retry else "failing")] += 1
            else:
                report.fenced += 1
        if evidence:
            audit.append(conn, evidence)
