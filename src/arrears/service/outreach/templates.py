"""Contact templates as use cases: load (lint, then keep a new version of what changed), look
up the version in force, build the rendering context of a loan, preview."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, and_, func, insert, select, text

from arrears.bootstrap import App
from arrears.channels import templating
from arrears.channels.templating import Rendered, Template, TemplateError
from arrears.compliance.rulebook import HERE as RULEBOOKS
from arrears.compliance.rulebook import Rulebook
from arrears.compliance.rulebook import load as load_rulebook
from arrears.service.books.statements import statement_for_loan
from arrears.service.errors import Invalid, NotFound
from arrears.service.store import require_current
from arrears.store import tables as t

#: the locale a template falls back to when it has no version in the borrower's
DEFAULT_LOCALE = "zh-CN"


def rulebooks() -> dict[str, Rulebook]:
    """Every shipped rulebook: a template may be used under any of them."""
    ids = sorted(p.stem.replace("_", "-") for p in RULEBOOKS.glob("*.yaml"))
    return {i: load_rulebook(i) for i in ids}


@dataclass
class LoadReport:
    new: list[str]
    changed: list[str]
    unchanged: int


def load_templates(app: App, folder: Path | None = None) -> LoadReport:
    """Read, lint and store the templates of ``folder`` (the settings' or the shipped ones).
    All or nothing: one template with a problem loads none, and every problem is reported."""
    require_current(app)
    folder = folder or app.settings.templates_dir or templating.HERE
    try:
        found = templating.read_folder(folder)
        templating.check_all(found, rulebooks())
    except TemplateError as exc:
        raise Invalid(str(exc)) from exc
    new: list[str] = []
    changed: list[str] = []
    same = 0
    with app.engine.begin() as conn:
        if conn.dialect.name == "postgresql":  # one loader at a time (dispatchers start together)
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('arrears.template'))"))
        for tpl in found:
            latest = _latest_row(conn, tpl.name, tpl.locale)
            if latest is not None and latest.digest == tpl.digest:
                same += 1
                continue
            version = 1 if latest is None else latest.version + 1
            conn.execute(
                insert(t.template).values(
                    name=tpl.name,
                    locale=tpl.locale,
                    version=version,
                    channel=tpl.channel,
                    audience=tpl.audience,
                    subject=tpl.subject,
                    body=tpl.body,
                    digest=tpl.digest,
                    loaded_at=app.clock(),
                    source=_relative(tpl.source),
                )
            )
            (new if latest is None else changed).append(f"{tpl.name} [{tpl.locale}] v{version}")
    return LoadReport(new, changed, same)


def _relative(source: str) -> str:
    """A shipped template's source without the machine's path."""
    root = str(templating.HERE.parent.parent)
    return source[len(root) + 1 :] if source.startswith(root) else source


def _latest_row(conn: Connection, name: str, locale: str) -> Any:
    tt = t.template
    top = (
        select(func.max(tt.c.version))
        .where(and_(tt.c.name == name, tt.c.locale == locale))
        .scalar_subquery()
    )
    return conn.execute(
        select(tt).where(and_(tt.c.name == name, tt.c.locale == locale, tt.c.version == top))
    ).first()


def ensure_loaded(app: App) -> None:
    """Load the templates (settings' or shipped) if the store has none at all."""
    with app.engine.connect() as conn:
        empty = conn.execute(select(func.count()).select_from(t.template)).scalar_one() == 0
    if empty:
        load_templates(app)


def current(app: App, name: str, locale: str) -> Template:
    """The version in force of ``name`` in ``locale`` (or in the default locale if it has
    none there); loads the shipped templates first if the store has none at all."""
    ensure_loaded(app)
    with app.engine.connect() as conn:
        row = _latest_row(conn, name, locale)
        if row is None and locale != DEFAULT_LOCALE:
            row = _latest_row(conn, name, DEFAULT_LOCALE)
    if row is None:
        raise Invalid(
            f"template {name!r}: none in the store for {locale} or {DEFAULT_LOCALE}",
            field="template",
        )
    return Template(
        name=row.name,
        locale=row.locale,
        channel=row.channel,
        body=row.body,
        subject=row.subject,
        audience=row.audience,
        version=row.version,
        source=row.source,
    )


def context_for(
    app: App,
    loan_id: str,
    as_of: date,
    *,
    locale: str,
    code: str,
    collector_id: str | None = None,
) -> dict[str, Any]:
    """What a template about ``loan_id`` can say (docs/CHANNELS.md), computed as of ``as_of``."""
    st = statement_for_loan(app, loan_id, as_of)
    with app.engine.connect() as conn:
        facts = loan_facts(conn, [loan_id])
    if loan_id not in facts:
        raise NotFound(f"loan {loan_id}: not in the store", field="loan_id")
    return context_from(
        app, st, facts[loan_id], locale=locale, code=code, collector_id=collector_id
    )


@dataclass(frozen=True)
class LoanFacts:
    """What a message says about a loan besides its statement."""

    loan_id: str
    name_enc: bytes | None
    creditor: str
    product: str
    currency: str


def loan_facts(conn: Connection, loan_ids: list[str]) -> dict[str, LoanFacts]:
    """The borrower's name (encrypted), creditor, product and currency of each loan."""
    rows = conn.execute(
        select(
            t.loan.c.loan_id,
            t.borrower.c.name_enc,
            t.portfolio.c.creditor,
            t.portfolio.c.product,
            t.loan.c.currency,
        )
        .select_from(
            t.loan.join(t.borrower, t.borrower.c.borrower_id == t.loan.c.borrower_id).join(
                t.portfolio, t.portfolio.c.portfolio_id == t.loan.c.portfolio_id
            )
        )
        .where(t.loan.c.loan_id.in_(loan_ids))
    ).all()
    return {r.loan_id: LoanFacts(*r) for r in rows}


def context_from(
    app: App,
    st: dict[str, Any],
    row: LoanFacts,
    *,
    locale: str,
    code: str,
    collector_id: str | None = None,
) -> dict[str, Any]:
    """The rendering context of a loan from its statement (as :func:`statement_to_dict` gives
    it) and its facts."""
    loan_id = row.loan_id
    s = app.settings
    zh = locale.startswith("zh")
    name = app.cipher.decrypt("borrower.name", row.name_enc) or ("客户" if zh else "customer")
    nxt = next((i for i in st["instalments"] if i["due_date"] == st["next_due_date"]), None)
    overdue = st["overdue"]
    return {
        "org": {
            "name": row.creditor,
            "phone": s.org_phone,
            "verify_url": s.verify_url,
            "pay_how": s.pay_how_zh if zh else s.pay_how_en,
            "address": s.org_address,
        },
        "collector": {"id": collector_id or s.system_collector_id, "name": ""},
        "borrower": {"name": name},
        "loan": {"ref": loan_id, "product": row.product, "currency": row.currency},
        "debt": {
            "as_of": st["as_of"],
            "dpd": st["dpd"] or 0,
            "total_due": st["total_due"],
            "overdue_principal": overdue["principal"],
            "overdue_interest": overdue["interest"],
            "overdue_fee": overdue["fee"],
            "penalty": overdue["penalty"],
            "daily_rate": _percent(st["daily_penalty_rate"]),
            "next_due": st["next_due_date"] or "",
            "next_amount": _owed(nxt),
        },
        "code": code,
        "today": st["as_of"],
    }


def _owed(inst: dict[str, Any] | None) -> int:
    """What is still owed on an instalment (0 when there is none)."""
    return 0 if inst is None else int(inst["unpaid"])


def _percent(rate: str | None) -> str:
    """A daily rate as a percentage: "0.0005" -> "0.05%"."""
    if not rate:
        return ""
    from decimal import Decimal

    value = (Decimal(rate) * 100).normalize()
    return f"{value:f}%"


def postal_address(app: App, loan_id: str) -> str | None:
    """The borrower's valid postal address (the primary one first), decrypted; None if none."""
    cp = t.contact_point
    with app.engine.connect() as conn:
        row = conn.execute(
            select(cp.c.value_enc)
            .select_from(t.loan.join(cp, cp.c.borrower_id == t.loan.c.borrower_id))
            .where(
                t.loan.c.loan_id == loan_id,
                cp.c.kind == "address",
                cp.c.owner_role == "borrower",
                cp.c.is_valid.is_(True),
            )
            .order_by(cp.c.is_primary.desc(), cp.c.contact_id)
            .limit(1)
        ).first()
    return None if row is None else app.cipher.decrypt("contact_point.value", row.value_enc)


def _with_borrower() -> Any:
    return t.loan.join(t.borrower, t.borrower.c.borrower_id == t.loan.c.borrower_id)


def preview(
    app: App, name: str, loan_id: str, as_of: date, locale: str | None = None
) -> tuple[Template, Rendered]:
    """``name`` rendered for ``loan_id`` with a placeholder code (nothing is stored)."""
    require_current(app)
    if locale is None:
        with app.engine.connect() as conn:
            locale = conn.execute(
                select(t.borrower.c.locale)
                .select_from(
                    t.loan.join(t.borrower, t.borrower.c.borrower_id == t.loan.c.borrower_id)
                )
                .where(t.loan.c.loan_id == loan_id)
            ).scalar()
        if locale is None:
            raise NotFound(f"loan {loan_id}: not in the store", field="loan_id")
    tpl = current(app, name, locale)
    ctx = context_for(app, loan_id, as_of, locale=tpl.locale, code="PREV-IEW0")
    return tpl, templating.render(tpl, ctx)
