"""The measures the business runs on (``../shared/DOMAIN.md``), over a period [since, until]:

* ``by_bucket`` / ``by_stage``: loans and total due in each, from the delinquency snapshot of
  ``until`` (``arrears portfolio`` stores one), else the collection stages the cycle keeps;
* ``roll_rates``: bucket i → j = balance in i at the start and in j at the end / balance in i
  at the start, between the first and the last delinquency snapshot stored in the period
  (``arrears portfolio`` stores one a day); ``cure_rates``: the share of bucket-i balance back
  to 0 DPD (or settled);
* ``ptp_kept_rate``: promise parts due in the period and kept in full by their date + grace /
  parts due and decided;
* ``right_party_contact_rate``: outbound calls and visits that reached the borrower
  (connected, conversation) / outbound call and visit attempts;
* ``contacts_by_channel``, ``blocks_by_rule`` (the plan's actions the gate or a suppression
  stopped); ``complaints_per_10k``: complaints per 10,000 contacts, by collector, template and
  agency.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from arrears.bootstrap import App
from arrears.compliance.facts import CONNECTED
from arrears.service.errors import Invalid
from arrears.service.store import require_current
from arrears.store import tables as t


def _instant(app: App, d: date) -> datetime:
    return datetime.combine(d, time(0), ZoneInfo(app.settings.business_timezone))


def _share(num: int, den: int) -> float | None:
    return None if den == 0 else round(num / den, 4)


def measures(app: App, since: date, until: date) -> dict[str, Any]:
    require_current(app)
    if until < since:
        raise Invalid(f"until: {until} is before since ({since})", field="until")
    start, end = _instant(app, since), _instant(app, until + timedelta(days=1))
    with app.engine.connect() as conn:
        out: dict[str, Any] = {"since": since.isoformat(), "until": until.isoformat()}
        out.update(_books(conn, until))
        out.update(_rolls(conn, since, until))
        pr = t.promise
        decided: dict[str, int] = dict(
            conn.execute(
                select(pr.c.status, func.count())
                .where(
                    pr.c.due_on >= since,
                    pr.c.due_on <= until,
                    pr.c.status.in_(("kept", "partly_kept", "broken")),
                )
                .group_by(pr.c.status)
            ).all()
        )
        kept, due = int(decided.get("kept", 0)), sum(int(v) for v in decided.values())
        out["ptp"] = {
            "due": due,
            "kept": kept,
            "partly_kept": int(decided.get("partly_kept", 0)),
            "broken": int(decided.get("broken", 0)),
        }
        out["ptp_kept_rate"] = _share(kept, due)
        ca = t.contact_attempt
        window = (ca.c.at >= start, ca.c.at < end, ca.c.direction == "outbound")
        by_channel: dict[str, int] = dict(
            conn.execute(
                select(ca.c.channel, func.count()).where(*window).group_by(ca.c.channel)
            ).all()
        )
        out["contacts_by_channel"] = {k: int(v) for k, v in sorted(by_channel.items())}
        worked = (*window, ca.c.channel.in_(("call", "visit")))
        attempts = int(conn.execute(select(func.count()).where(*worked)).scalar() or 0)
        reached = int(
            conn.execute(
                select(func.count()).where(
                    *worked, ca.c.role == "debtor", ca.c.result.in_(sorted(CONNECTED))
                )
            ).scalar()
            or 0
        )
        out["right_party_contact"] = {"attempts": attempts, "reached": reached}
        out["right_party_contact_rate"] = _share(reached, attempts)
        pa_ = t.plan_action
        blocks = conn.execute(
            select(pa_.c.rule, func.count())
            .where(
                pa_.c.business_date >= since,
                pa_.c.business_date <= until,
                pa_.c.status.in_(("blocked", "suppressed", "cancelled")),
                pa_.c.rule.is_not(None),
            )
            .group_by(pa_.c.rule)
        ).all()
        out["blocks_by_rule"] = {str(k): int(v) for k, v in sorted(blocks, key=lambda r: -r[1])}
    from arrears.service.cases.complaints import rates

    out["complaints_per_10k"] = [
        {
            "by": r.by,
            "who": r.key,
            "complaints": r.complaints,
            "contacts": r.contacts,
            "per_10k": r.per_10k,
        }
        for r in rates(app, start, end)
    ]
    return out


def _books(conn: Any, day: date) -> dict[str, Any]:
    ds = t.delinquency_snapshot
    snap = (
        day
        if conn.execute(select(ds.c.loan_id).where(ds.c.as_of == day).limit(1)).first()
        else None
    )
    if snap is not None:
        bucket = conn.execute(
            select(ds.c.bucket, func.count(), func.sum(ds.c.total_due))
            .where(ds.c.as_of == snap)
            .group_by(ds.c.bucket)
        ).all()
        stage = conn.execute(
            select(ds.c.stage, func.count(), func.sum(ds.c.total_due))
            .where(ds.c.as_of == snap)
            .group_by(ds.c.stage)
        ).all()
        return {
            "book_from": "snapshot",
            "by_bucket": {
                str(k or "settled"): {"loans": int(n), "total_due": int(s or 0)}
                for k, n, s in bucket
            },
            "by_stage": {str(k): {"loans": int(n), "total_due": int(s or 0)} for k, n, s in stage},
        }
    st = t.account_stage
    stage = conn.execute(select(st.c.stage, func.count()).group_by(st.c.stage)).all()
    return {
        "book_from": "collection stages",
        "by_bucket": {},
        "by_stage": {str(k): {"loans": int(n), "total_due": None} for k, n in stage},
    }


def _rolls(conn: Any, since: date, until: date) -> dict[str, Any]:
    """Between the first and the last delinquency snapshot stored within [since, until]: the
    roll and cure rates, and the bucket-by-bucket matrix (loans and balances). The first
    snapshot ever stored is said, so a period that starts before it is flagged."""
    ds = t.delinquency_snapshot
    ever = conn.execute(select(func.min(ds.c.as_of))).scalar()
    first, last = conn.execute(
        select(func.min(ds.c.as_of), func.max(ds.c.as_of)).where(
            ds.c.as_of >= since, ds.c.as_of <= until
        )
    ).one()
    out: dict[str, Any] = {"first_snapshot": ever.isoformat() if ever else None}
    out["starts_before_snapshots"] = ever is None or since < ever
    rows = []
    if first is not None and last is not None and first < last:
        a, b = ds.alias("a"), ds.alias("b")
        rows = conn.execute(
            select(a.c.bucket, b.c.bucket, b.c.dpd, func.count(), func.sum(a.c.total_due))
            .select_from(a.join(b, (b.c.loan_id == a.c.loan_id) & (b.c.as_of == last)))
            .where(a.c.as_of == first, a.c.dpd > 0)
            .group_by(a.c.bucket, b.c.bucket, b.c.dpd)
        ).all()
    if not rows:
        return out | {
            "roll_rates": None,
            "cure_rates": None,
            "roll_matrix": None,
            "rolls_note": f"needs two delinquency snapshots between {since} and {until} "
            "(arrears portfolio stores one)",
        }
    start: dict[str, int] = defaultdict(int)
    moved: dict[tuple[str, str], int] = defaultdict(int)
    cured: dict[str, int] = defaultdict(int)
    cells: dict[str, dict[str, dict[str, int]]] = defaultdict(dict)
    for i, j, dpd, n, bal in rows:
        start[i] += int(bal or 0)
        to = "cured" if dpd is None or dpd <= 0 else str(j)
        cell = cells[i].setdefault(to, {"loans": 0, "balance": 0})
        cell["loans"] += int(n)
        cell["balance"] += int(bal or 0)
        if to == "cured":
            cured[i] += int(bal or 0)
        else:
            moved[(i, j)] += int(bal or 0)
    buckets = sorted({*start, *(j for row in cells.values() for j in row if j != "cured")},
                     key=bucket_order)  # fmt: skip
    return out | {
        "rolls_between": [first.isoformat(), last.isoformat()],
        "roll_rates": {f"{i}->{j}": _share(v, start[i]) for (i, j), v in sorted(moved.items())},
        "cure_rates": {i: _share(cured[i], start[i]) for i in sorted(start)},
        "roll_matrix": {
            "buckets": buckets,
            "rows": [
                {"from": i, "start": start[i], "cells": cells[i]}
                for i in sorted(start, key=bucket_order)
            ],
        },
    }


def bucket_order(name: str) -> tuple[int, str]:
    """M0, M1 ... M7+ in DPD order (the number in the name), others after."""
    digits = "".join(ch for ch in name if ch.isdigit())
    return (int(digits) if digits else 999, name)
