"""Agency placement: the plan's ``agency`` actions carried out (legal referral, the plan's
``legal_referral`` actions, is :mod:`.legal`).

**Placement.** The day's planned placements are judged again (a hold, a payment or a promise
since the plan stops them, as for messages), each account goes to an agency of its pool (the
agencies file shares a pool among agencies, by a stable hash of the loan), and each agency gets
one CSV file: the *minimum* it needs to collect — loan reference, the borrower's name, one
phone and one postal address, what is owed by part, days past due, the last payment, and the
dates the placement starts and must end. No national id, no emergency contacts or relatives,
no employer, no other loans. An account has at most one active placement; it is recalled (a
recall file per agency) when its term ends, when it is paid, or on request (a dispute, a
complaint), and every placement and recall is in the audit log.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import and_, insert, select, update

from arrears import exports
from arrears.bootstrap import App
from arrears.parsing import ParseLimit, load_yaml
from arrears.service.errors import Invalid
from arrears.service.outreach.pending import Placed, after_commit, apply_verdicts, judge_actions
from arrears.service.outreach.state import Report
from arrears.service.outreach.templates import loan_facts
from arrears.service.store import require_current
from arrears.store import audit
from arrears.store import tables as t

PLACEMENT_FIELDS = (
    "placement_id", "loan_ref", "borrower_name", "phone", "address", "currency", "total_due",
    "overdue_principal", "overdue_interest", "overdue_fee", "penalty", "dpd",
    "last_payment_on", "placed_on", "recall_by",
)  # fmt: skip


RECALL_FIELDS = ("placement_id", "loan_ref", "recalled_on", "reason")


class _Share(BaseModel):
    model_config = ConfigDict(extra="forbid")
    agency: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    share: int = Field(100, ge=1)


class Agencies(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pools: dict[str, list[_Share]] = Field(default_factory=dict)

    def agency_for(self, pool: str | None, loan_id: str) -> str:
        """The agency of ``pool`` that takes ``loan_id`` (stable: the same loan, the same one)."""
        shares = self.pools.get(pool or "")
        if not shares:
            return pool or "unassigned"
        total = sum(s.share for s in shares)
        point = int(hashlib.sha256(f"{pool}|{loan_id}".encode()).hexdigest()[:8], 16) % total
        for s in shares:
            if point < s.share:
                return s.agency
            point -= s.share
        return shares[-1].agency  # pragma: no cover


def load_agencies(path: Path | None) -> Agencies:
    if path is None:
        return Agencies()
    try:
        data = load_yaml(path.read_text(encoding="utf-8"), str(path)) or {}
        return Agencies.model_validate(data)
    except (OSError, yaml.YAMLError, ParseLimit) as exc:
        raise Invalid(f"{path}: {exc}") from exc
    except ValidationError as exc:
        where = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise Invalid(f"{path}: {where}") from exc


@dataclass
class PlacementRun:
    files: dict[str, Path]  # agency -> its placement file
    placed: int
    already: int  # the account had an active placement: left with its agency
    stopped: Report  # cancelled by the second look, with the rules


def _write_csv(path: Path, header: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    """Written whole or not at all (a temporary file renamed over)."""
    buf = io.StringIO()
    w = exports.dict_writer(buf, header)  # never a formula in the agency's spreadsheet
    w.writeheader()
    w.writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(buf.getvalue(), encoding="utf-8")
    os.replace(tmp, path)


def _contact(app: App, conn: Any, borrower_ids: set[str], kind: str) -> dict[str, str]:
    cp = t.contact_point
    rows = conn.execute(
        select(cp.c.borrower_id, cp.c.value_enc)
        .where(
            cp.c.borrower_id.in_(sorted(borrower_ids)),
            cp.c.kind == kind,
            cp.c.owner_role == "borrower",
            cp.c.is_valid.is_(True),
        )
        .order_by(cp.c.borrower_id, cp.c.is_primary.desc(), cp.c.contact_id)
    ).all()
    out: dict[str, str] = {}
    for r in rows:
        if r.borrower_id not in out:
            out[r.borrower_id] = app.cipher.decrypt("contact_point.value", r.value_enc) or ""
    return out


def place(app: App, day: date, folder: Path | None = None) -> PlacementRun:
    """Carry out ``day``'s planned agency placements: one file per agency."""
    require_current(app)
    folder = folder or app.settings.placements_dir
    agencies = load_agencies(app.settings.agencies_file)
    pa_, pl = t.plan_action, t.placement
    now = app.clock()
    with app.engine.connect() as conn:
        actions = conn.execute(
            select(pa_).where(
                pa_.c.business_date == day, pa_.c.channel == "agency", pa_.c.status == "planned"
            )
        ).all()
        active = set(conn.execute(select(pl.c.loan_id).where(pl.c.status == "placed")).scalars())
    stopped = Report()
    verdicts, statements = judge_actions(app, actions, now) if actions else ({}, {})
    with app.engine.begin() as conn:
        apply_verdicts(app, conn, list(verdicts.values()), None, stopped)
    go = [a for a in actions if verdicts[a.action_id].outcome == "send"]
    already = [a for a in go if a.loan_id in active]
    go = [a for a in go if a.loan_id not in active]
    with app.engine.connect() as conn:
        facts = loan_facts(conn, sorted({a.loan_id for a in go}))
        phones = _contact(app, conn, {a.borrower_id for a in go}, "phone")
        addresses = _contact(app, conn, {a.borrower_id for a in go}, "address")
        last_paid = dict(
            conn.execute(
                select(t.payment.c.loan_id, t.payment.c.paid_on)
                .where(
                    t.payment.c.loan_id.in_([a.loan_id for a in go]), t.payment.c.status == "posted"
                )
                .order_by(t.payment.c.paid_on)
            ).all()
        )
    recall_by = day + timedelta(days=app.settings.placement_days)
    by_agency: dict[str, list[dict[str, Any]]] = {}
    records: list[dict[str, Any]] = []
    for a in sorted(go, key=lambda x: x.loan_id):
        agency = agencies.agency_for(a.pool, a.loan_id)
        st, f = statements[a.loan_id], facts[a.loan_id]
        pid = f"pl-{uuid.uuid4().hex[:16]}"
        o = st["overdue"]
        by_agency.setdefault(agency, []).append(
            {
                "placement_id": pid,
                "loan_ref": a.loan_id,
                "borrower_name": app.cipher.decrypt("borrower.name", f.name_enc) or "",
                "phone": phones.get(a.borrower_id, ""),
                "address": addresses.get(a.borrower_id, ""),
                "currency": f.currency,
                "total_due": st["total_due"],
                "overdue_principal": o["principal"],
                "overdue_interest": o["interest"],
                "overdue_fee": o["fee"],
                "penalty": o["penalty"],
                "dpd": st["dpd"] or 0,
                "last_payment_on": last_paid.get(a.loan_id) or "",
                "placed_on": day.isoformat(),
                "recall_by": recall_by.isoformat(),
            }
        )
        records.append(
            {
                "placement_id": pid,
                "loan_id": a.loan_id,
                "borrower_id": a.borrower_id,
                "agency": agency,
                "pool": a.pool,
                "action_id": a.action_id,
                "placed_on": day,
                "recall_by": recall_by,
                "balance": st["total_due"],
                "status": "placed",
                "file": f"placement-{agency}-{day.isoformat()}.csv",
            }
        )
    files: dict[str, Path] = {}
    with app.engine.begin() as conn:
        if records:
            conn.execute(insert(pl), records)
            for r in records:
                conn.execute(
                    update(pa_)
                    .where(pa_.c.action_id == r["action_id"])
                    .values(status="placed", sent_at=now)
                )
            for a in already:
                conn.execute(
                    update(pa_)
                    .where(pa_.c.action_id == a.action_id)
                    .values(status="cancelled", rule="agency.already_placed")
                )
            audit.append(
                conn,
                [
                    audit.Entry(
                        kind="placement",
                        subject=r["loan_id"],
                        rulebook="",
                        at=now,
                        payload={k: str(v) for k, v in r.items()},
                    )
                    for r in records
                ],
            )
        # the files last, inside the transaction: a failure to write leaves nothing placed
        for agency, rows in by_agency.items():
            path = folder / f"placement-{agency}-{day.isoformat()}.csv"
            _write_csv(path, PLACEMENT_FIELDS, rows)
            files[agency] = path
    if records:  # the in-house plan stops working what was placed (same day included)
        after_commit(app, Placed(tuple(r["loan_id"] for r in records)))
    return PlacementRun(files, len(records), len(already), stopped)


@dataclass
class RecallRun:
    files: dict[str, Path]
    recalled: int


def recall(
    app: App,
    day: date,
    *,
    loan_ids: list[str] | None = None,
    reason: str = "requested",
    folder: Path | None = None,
) -> RecallRun:
    """Recall active placements: of ``loan_ids`` (for ``reason``), or else every one whose term
    ended by ``day`` (reason "term_ended"). One recall file per agency."""
    require_current(app)
    folder = folder or app.settings.placements_dir
    pl = t.placement
    cond = [pl.c.status == "placed"]
    if loan_ids is not None:
        cond.append(pl.c.loan_id.in_(loan_ids))
    else:
        cond.append(pl.c.recall_by <= day)
        reason = "term_ended"
    with app.engine.begin() as conn:
        rows = conn.execute(select(pl).where(and_(*cond)).order_by(pl.c.loan_id)).all()
        if loan_ids is not None:
            unknown = set(loan_ids) - {r.loan_id for r in rows}
            if unknown:
                raise Invalid(
                    f"recall: no active placement for {', '.join(sorted(unknown))}", field="recall"
                )
        if not rows:
            return RecallRun({}, 0)
        conn.execute(
            update(pl)
            .where(pl.c.placement_id.in_([r.placement_id for r in rows]))
            .values(status="recalled", recalled_on=day, recall_reason=reason)
        )
        audit.append(
            conn,
            [
                audit.Entry(
                    kind="recall",
                    subject=r.loan_id,
                    rulebook="",
                    at=app.clock(),
                    payload={"placement_id": r.placement_id, "agency": r.agency, "reason": reason},
                )
                for r in rows
            ],
        )
        by_agency: dict[str, list[dict[str, Any]]] = {}
        for r in rows:
            by_agency.setdefault(r.agency, []).append(
                {
                    "placement_id": r.placement_id,
                    "loan_ref": r.loan_id,
                    "recalled_on": day.isoformat(),
                    "reason": reason,
                }
            )
        files = {}
        for agency, items in by_agency.items():
            path = folder / f"recall-{agency}-{day.isoformat()}.csv"
            if path.exists():  # a second recall the same day: one file, both lists
                with open(path, encoding="utf-8") as f:
                    items = list(csv.DictReader(f)) + items
            _write_csv(path, RECALL_FIELDS, items)
            files[agency] = path
    return RecallRun(files, len(rows))
