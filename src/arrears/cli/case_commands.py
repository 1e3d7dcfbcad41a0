"""``arrears promise`` and ``arrears payment reverse|import``: what collectors agree with
borrowers, and payments as events. Registered on the main app by :mod:`arrears.cli`."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from arrears.cli.channel_commands import payment_app
from arrears.cli.common import _app, _as_of, _errors, app, out

promise_app = typer.Typer(help="Promises to pay: make one, list a loan's, decide the due ones.")
app.add_typer(promise_app, name="promise")


def _part(text: str) -> tuple[date, int]:
    when, sep, amount = text.partition(":")
    try:
        if not sep:
            raise ValueError
        return date.fromisoformat(when), int(amount)
    except ValueError as exc:
        raise typer.BadParameter(f"--part: expected YYYY-MM-DD:AMOUNT, got {text!r}") from exc


@promise_app.command("make")
def promise_make(
    loan_id: Annotated[str, typer.Option("--loan-id", help="the loan")],
    part: Annotated[
        list[str], typer.Option("--part", help="DATE:AMOUNT (fen); repeat for several parts")
    ],
    source: Annotated[str, typer.Option(help="agent_call, robocall, portal or api")] = "agent_call",
    by: Annotated[str | None, typer.Option("--by", help="the collector who took it")] = None,
) -> None:
    """Record a promise to pay (within the portfolio's limits)."""
    from arrears.service.cases.promises import Part, make_promise

    parts = [Part(*_part(p)) for p in part]
    a = _app()
    with _errors():
        ids = make_promise(a, loan_id, parts, source=source, made_by=by)
    out.print(f"promise of {len(ids)} part(s) recorded for {loan_id}: {', '.join(ids)}")


@promise_app.command("list")
def promise_list(loan_id: Annotated[str, typer.Option("--loan-id", help="the loan")]) -> None:
    """A loan's promises, part by part."""
    from arrears.service.queries.casework import promises_of

    rows = promises_of(_app(), loan_id)
    table = Table(title=f"promises of {loan_id}", title_justify="left")
    for col in ("part", "due on", "amount", "status", "paid", "decided", "source", "by"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["promise_id"],
            str(r["due_on"]),
            f"{r['amount']:,}",
            r["status"],
            "" if r["paid"] is None else f"{r['paid']:,}",
            str(r["settled_on"] or ""),
            r["source"] or "",
            r["made_by"] or "",
        )
    out.print(table)


@promise_app.command("settle")
def promise_settle(
    day: Annotated[str | None, typer.Option("--day", help="business date; today")] = None,
) -> None:
    """Decide the parts whose date and grace have passed (the cycle does this itself)."""
    from arrears.service.cases.promises import settle

    a = _app()
    with _errors():
        counts = settle(a, _as_of(day, a))
    out.print(", ".join(f"{k} {v}" for k, v in counts.items()))


@payment_app.command("reverse")
def payment_reverse(
    payment_id: Annotated[str, typer.Argument(help="the payment that bounced")],
    reason: Annotated[str, typer.Option(help="bounced, chargeback, posted in error ...")],
    on: Annotated[str | None, typer.Option("--on", help="date of the reversal; today")] = None,
) -> None:
    """Reverse a payment: the ledger, the promises it kept and the actions it cancelled."""
    from arrears.service.cases.payments import reverse_payment

    a = _app()
    with _errors():
        r = reverse_payment(a, payment_id, reason, _as_of(on, a) if on else None)
    out.print(f"reversed {r.payment_id} on {r.loan_id}; {len(r.restored)} action(s) planned again")


@payment_app.command("import")
def payment_import(
    file: Annotated[Path, typer.Argument(help="CSV: payment_id, loan_id, paid_on, amount")],
) -> None:
    """Post a file of payments as events. Every row is checked first; one bad row posts none."""
    from arrears.service.cases.payments import check_rows, post_payment

    a = _app()
    with _errors():
        try:
            with open(file, encoding="utf-8-sig", newline="") as f:
                rows = list(csv.DictReader(f))
        except OSError as exc:
            from arrears.service.errors import Invalid

            raise Invalid(f"{file}: {exc}") from exc
        good = check_rows(a, file, rows)
        cancelled = kept = 0
        for r in good:
            p = post_payment(
                a,
                r.loan_id,
                r.amount,
                r.paid_on,
                payment_id=r.payment_id,
                source="file",
                overpayment=True,
            )  # rows checked above
            cancelled += len(p.cancelled)
            kept += p.promises_kept
    out.print(
        f"{len(good)} payments posted; {cancelled} pending action(s) cancelled, "
        f"{kept} promise part(s) kept"
    )


waiver_app = typer.Typer(help="Waivers (减免): preview, propose, approve or reject.")
app.add_typer(waiver_app, name="waiver")


def _amounts(penalty: int, fee: int, interest: int) -> dict[str, int]:
    return {k: v for k, v in (("penalty", penalty), ("fee", fee), ("interest", interest)) if v}


def _show(effect: dict[str, object]) -> None:
    table = Table(title="effect", title_justify="left")
    table.add_column("")
    table.add_column("value", justify="right")
    rows: list[dict[str, object]] = []
    for k, v in effect.items():
        if k == "schedule" and isinstance(v, list):
            rows = v
            continue
        table.add_row(k, json.dumps(v, ensure_ascii=False) if isinstance(v, dict) else str(v))
    out.print(table)
    if rows:
        sched = Table(title="schedule (fen)", title_justify="left")
        cols = list(rows[0])
        for c in cols:
            sched.add_column(c, justify="left" if c == "due_date" else "right")
        for r in rows:
            sched.add_row(*(str(r.get(c, "")) for c in cols))
        out.print(sched)


@waiver_app.command("propose")
def waiver_propose(
    loan_id: Annotated[str, typer.Option("--loan-id", help="the loan")],
    by: Annotated[str, typer.Option("--by", help="who proposes it")],
    role: Annotated[str, typer.Option(help="collector, supervisor or admin")],
    reason: Annotated[str, typer.Option(help="why")],
    penalty: Annotated[int, typer.Option(help="fen of penalty to waive")] = 0,
    fee: Annotated[int, typer.Option(help="fen of fees to waive")] = 0,
    interest: Annotated[int, typer.Option(help="fen of interest to waive")] = 0,
    preview: Annotated[bool, typer.Option(help="show the effect only; change nothing")] = False,
) -> None:
    """Propose a waiver: in force at once within the role's limits, else waiting for a second
    person's approval. The effect is shown either way."""
    from arrears.service.cases.arrangements import preview_waiver, propose_waiver

    a = _app()
    with _errors():
        amounts = _amounts(penalty, fee, interest)
        if preview:
            _show(preview_waiver(a, loan_id, amounts))
            return
        p = propose_waiver(a, loan_id, amounts, by=by, role=role, reason=reason)
    _show(p.effect)
    out.print(f"{p.arrangement_id}: {p.status}")


@waiver_app.command("approve")
def waiver_approve(
    arrangement_id: Annotated[str, typer.Argument(help="the waiting proposal")],
    by: Annotated[str, typer.Option("--by", help="the approver (not the proposer)")],
    role: Annotated[str, typer.Option(help="an approving role: supervisor, admin")],
) -> None:
    """Approve a waiting waiver (maker-checker: never the person who proposed it)."""
    from arrears.service.cases.approvals import approve

    a = _app()
    with _errors():
        p = approve(a, arrangement_id, by=by, role=role)
    _show(p.effect)
    out.print(f"{p.arrangement_id}: {p.status}")


@waiver_app.command("reject")
def waiver_reject(
    arrangement_id: Annotated[str, typer.Argument(help="the waiting proposal")],
    by: Annotated[str, typer.Option("--by", help="who rejects it")],
    role: Annotated[str, typer.Option(help="their role (an approving one)")],
    reason: Annotated[str, typer.Option(help="why")],
) -> None:
    """Reject a waiting waiver (a second person in an approving role, as for approval)."""
    from arrears.service.cases.approvals import reject

    a = _app()
    with _errors():
        reject(a, arrangement_id, by=by, role=role, reason=reason)
    out.print(f"{arrangement_id}: rejected")


arrangement_app = typer.Typer(
    help="Extensions 展期, instalment plans 分期 and settlements: propose (effect first), "
    "approve, reject, list."
)
app.add_typer(arrangement_app, name="arrangement")


@arrangement_app.command("propose")
def arrangement_propose(
    kind: Annotated[str, typer.Argument(help="extension, plan or settlement")],
    loan_id: Annotated[str, typer.Option("--loan-id", help="the loan")],
    by: Annotated[str, typer.Option("--by", help="who proposes it")] = "",
    role: Annotated[str, typer.Option(help="collector, supervisor or admin")] = "collector",
    reason: Annotated[str, typer.Option(help="why")] = "",
    until: Annotated[str | None, typer.Option(help="extension: the new due date")] = None,
    days: Annotated[int | None, typer.Option(help="extension: days from today")] = None,
    parts: Annotated[int | None, typer.Option(help="plan: monthly parts")] = None,
    first: Annotated[str | None, typer.Option(help="plan: the first part's date")] = None,
    whole_balance: Annotated[bool, typer.Option(help="plan: the balance not yet due too")] = False,
    amount: Annotated[int | None, typer.Option(help="settlement: fen to pay")] = None,
    pay_by: Annotated[str | None, typer.Option(help="settlement: pay by this date")] = None,
    preview: Annotated[bool, typer.Option(help="show the effect only; change nothing")] = False,
) -> None:
    """Propose an arrangement: agreed at once within the role's limits, else waiting for a
    second person's approval. The effect (schedule, cost, saving) is shown either way."""
    from arrears.service.cases.arrangements import preview as preview_effect
    from arrears.service.cases.arrangements import propose

    ask: dict[str, object] = {
        k: v
        for k, v in (
            ("until", until),
            ("days", days),
            ("parts", parts),
            ("first", first),
            ("amount", amount),
            ("pay_by", pay_by),
        )
        if v is not None
    }
    if whole_balance:
        ask["whole_balance"] = True
    a = _app()
    with _errors():
        if preview:
            _show(preview_effect(a, loan_id, kind, ask))
            return
        p = propose(a, loan_id, kind, ask, by=by, role=role, reason=reason)
    _show(p.effect)
    out.print(f"{p.arrangement_id}: {p.status}")


@arrangement_app.command("approve")
def arrangement_approve(
    arrangement_id: Annotated[str, typer.Argument(help="the waiting proposal")],
    by: Annotated[str, typer.Option("--by", help="the approver (not the proposer)")],
    role: Annotated[str, typer.Option(help="an approving role: supervisor, admin")],
) -> None:
    """Approve a waiting arrangement (maker-checker: never the person who proposed it)."""
    waiver_approve(arrangement_id, by, role)


@arrangement_app.command("reject")
def arrangement_reject(
    arrangement_id: Annotated[str, typer.Argument(help="the waiting proposal")],
    by: Annotated[str, typer.Option("--by", help="who rejects it")],
    role: Annotated[str, typer.Option(help="their role (an approving one)")],
    reason: Annotated[str, typer.Option(help="why")],
) -> None:
    """Reject a waiting arrangement (a second person in an approving role)."""
    waiver_reject(arrangement_id, by, role, reason)


@arrangement_app.command("list")
def arrangement_list(
    loan_id: Annotated[str, typer.Option("--loan-id", help="the loan")],
) -> None:
    """A loan's arrangements: kind, status, dates, who proposed and who approved."""
    from arrears.service.cases.arrangements import arrangements_of

    a = _app()
    with _errors():
        rows = arrangements_of(a, loan_id)
    table = Table(title=f"arrangements of {loan_id}", title_justify="left")
    for col in ("id", "kind", "status", "from", "to", "proposed by", "approved by", "terms"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["arrangement_id"],
            r["kind"],
            r["status"],
            str(r["starts_on"]),
            str(r["ends_on"] or ""),
            f"{r['proposed_by']} ({r['proposed_role']})",
            str(r["approved_by"] or ""),
            r["terms"] or "",
        )
    out.print(table)


complaint_app = typer.Typer(help="Complaints: take one, escalate the late ones, resolve, rates.")
app.add_typer(complaint_app, name="complaint")


@complaint_app.command("file")
def complaint_file(
    borrower_id: Annotated[str, typer.Option("--borrower-id", help="who complains")],
    category: Annotated[str, typer.Option(help="threats, insults, too_many_calls ...")],
    description: Annotated[str, typer.Option(help="what happened, in the borrower's words")],
    source: Annotated[str, typer.Option(help="portal, api or collector")] = "api",
    loan_id: Annotated[str | None, typer.Option("--loan-id", help="the debt concerned")] = None,
    attempt: Annotated[
        list[str] | None, typer.Option("--attempt", help="a contact attempt it concerns")
    ] = None,
    taken_by: Annotated[str | None, typer.Option("--taken-by", help="the collector")] = None,
) -> None:
    """Take a complaint (a hold starts where the policy says so for its category)."""
    from arrears.service.cases.complaints import file_complaint
    from arrears.service.queries.casework import complaint_state

    a = _app()
    with _errors():
        cid = file_complaint(
            a,
            borrower_id=borrower_id,
            category=category,
            description=description,
            source=source,
            loan_id=loan_id,
            attempt_ids=attempt,
            taken_by=taken_by,
        )
    row = complaint_state(a, cid)
    out.print(
        f"{cid}: {row.status}, finding due {row.sla_due_at:%Y-%m-%d}; about collector "
        f"{row.collector_id or '-'}, template {row.template or '-'}; "
        f"hold {row.hold_id or 'none'}"
    )


@complaint_app.command("resolve")
def complaint_resolve(
    complaint_id: Annotated[str, typer.Argument(help="the complaint")],
    finding: Annotated[str, typer.Option(help="upheld, partly_upheld or not_upheld")],
    resolution: Annotated[str, typer.Option(help="what was found and done")],
    by: Annotated[str, typer.Option("--by", help="who decided")],
) -> None:
    """Record the finding; the complaint's hold ends."""
    from arrears.service.cases.complaints import resolve

    a = _app()
    with _errors():
        resolve(a, complaint_id, finding=finding, resolution=resolution, by=by)
    out.print(f"{complaint_id}: resolved ({finding})")


@complaint_app.command("escalate")
def complaint_escalate() -> None:
    """Escalate the open complaints past the policy's point."""
    from arrears.service.cases.complaints import escalate

    a = _app()
    with _errors():
        late = escalate(a)
    out.print(f"{len(late)} escalated")


@complaint_app.command("rates")
def complaint_rates(
    days: Annotated[int, typer.Option(help="the last N days")] = 30,
) -> None:
    """Complaints per 10,000 contacts by collector, agency and template."""
    from datetime import timedelta

    from arrears.service.cases.complaints import rates

    a = _app()
    until = a.clock() + timedelta(seconds=1)
    with _errors():
        found = rates(a, until - timedelta(days=days), until)
    table = Table(title=f"complaints per 10,000 contacts, last {days} days", title_justify="left")
    for col in ("by", "who", "complaints", "contacts", "per 10,000"):
        table.add_column(col, justify="right" if col in ("complaints", "contacts") else "left")
    for r in sorted(found, key=lambda r: (r.by, -r.per_10k, r.key)):
        if r.complaints or r.contacts:
            table.add_row(r.by, r.key, str(r.complaints), f"{r.contacts:,}", f"{r.per_10k:.1f}")
    out.print(table)
