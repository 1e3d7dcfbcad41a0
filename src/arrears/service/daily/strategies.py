"""Strategy versions managed from the console: upload (validated, kept whole), a dry-run diff
against today's plan, activation (one active at a time, who and when, in the audit log), and
the experiment arms' results.

The cycle runs the active version when no strategy is named (``ARREARS_STRATEGY`` and
``--strategy`` still win when given; see :func:`arrears.service.daily.cycle.strategy_from`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import and_, func, insert, select, update

from arrears.bootstrap import App
from arrears.service.errors import Invalid, NotFound
from arrears.service.store import require_current
from arrears.store import audit
from arrears.store import tables as t
from arrears.strategy.model import Strategy, StrategyError, loads


@dataclass(frozen=True)
class Uploaded:
    version_id: int | None
    problems: list[str]


def upload(app: App, text: str, *, by: str, source: str = "upload") -> Uploaded:
    """Validate a strategy's YAML and keep it as a new (inactive) version (the same text
    uploaded again is the version kept before); its problems (each with ``source``, the file's
    name, its line and field) when it is not valid, and nothing kept."""
    require_current(app)
    try:
        s = loads(text, source)
    except StrategyError as exc:
        # every problem at once: the store's templates are checked even when the file is not
        return Uploaded(None, [str(p) for p in exc.problems] + unknown_templates(app, exc.steps))
    missing = unknown_templates(app, [(p.id, p.channel, p.template) for p in s.steps])
    missing += undefined_lanes(s)
    if missing:
        return Uploaded(None, missing)
    digest = hashlib.sha256(text.encode()).hexdigest()
    with app.engine.begin() as conn:
        # the same text again is the version already kept, not a second copy of it
        kept = conn.execute(
            select(t.strategy_version.c.version_id)
            .where(t.strategy_version.c.sha256 == digest)
            .order_by(t.strategy_version.c.version_id)
            .limit(1)
        ).scalar_one_or_none()
        if kept is not None:
            return Uploaded(int(kept), [])
        vid = conn.execute(
            insert(t.strategy_version)
            .values(
                name=s.name,
                version=s.version,
                text=text,
                sha256=digest,
                uploaded_by=by,
                uploaded_at=app.clock(),
                active=False,
            )
            .returning(t.strategy_version.c.version_id)
        ).scalar_one()
    return Uploaded(int(vid), [])


def undefined_lanes(s: Strategy) -> list[str]:
    """Each step naming a queue or pool the strategy does not define, on a channel that does
    not need one (one that does is refused by the loader itself). Checked on upload only, so
    a version kept before this check still loads."""
    problems = []
    for step in s.steps:
        for kind, name, known in (("queue", step.queue, s.queues), ("pool", step.pool, s.pools)):
            if name is not None and name not in known:
                problems.append(
                    f"upload: treatments (step {step.id}): {kind}: no {kind} is named {name!r} "
                    f"under {kind}s"
                )
    return problems


def unknown_templates(app: App, steps: list[tuple[str, str, str | None]]) -> list[str]:
    """Each step naming a template that exists nowhere (neither in the store nor in the
    templates folder ``arrears template load`` reads), or one made for another channel."""
    from arrears.channels import templating

    channels: dict[str, set[str]] = {}
    with app.engine.connect() as conn:
        for name, channel in conn.execute(select(t.template.c.name, t.template.c.channel)):
            channels.setdefault(name, set()).add(channel)
    try:
        found = templating.read_folder(app.settings.templates_dir or templating.HERE)
    except templating.TemplateError:
        found = []
    for tpl in found:
        channels.setdefault(tpl.name, set()).add(tpl.channel)
    problems = []
    for step_id, channel, template in steps:
        if template is None:
            continue
        have = channels.get(template)
        if have is None:
            problems.append(
                f"upload: treatments (step {step_id}): template: no template is named {template!r}"
            )
        elif channel not in have:
            problems.append(
                f"upload: treatments (step {step_id}): template: {template!r} is a "
                f"{'/'.join(sorted(have))} template, not {channel}"
            )
    return problems


def versions(app: App) -> list[dict[str, Any]]:
    sv = t.strategy_version
    with app.engine.connect() as conn:
        return [
            dict(r)
            for r in conn.execute(
                select(
                    sv.c.version_id,
                    sv.c.name,
                    sv.c.version,
                    sv.c.sha256,
                    sv.c.uploaded_by,
                    sv.c.uploaded_at,
                    sv.c.activated_by,
                    sv.c.activated_at,
                    sv.c.active,
                    sv.c.requested_by,
                    sv.c.requested_at,
                ).order_by(sv.c.version_id.desc())
            ).mappings()
        ]


def version(app: App, version_id: int) -> Strategy:
    sv = t.strategy_version
    with app.engine.connect() as conn:
        text = conn.execute(select(sv.c.text).where(sv.c.version_id == version_id)).scalar()
    if text is None:
        raise NotFound(f"version_id: {version_id} is not in the store", field="version_id")
    try:
        return loads(text, f"version {version_id}")
    except StrategyError as exc:  # kept before a check it now fails: said, not a crash
        raise Invalid(str(exc)) from exc


def active(app: App) -> Strategy | None:
    """The active version, if one was activated."""
    sv = t.strategy_version
    with app.engine.connect() as conn:
        text = conn.execute(select(sv.c.text).where(sv.c.active)).scalar()
    return None if text is None else loads(text, "active version")


def activate(app: App, version_id: int, *, by: str) -> str:
    """Make ``version_id`` the one the cycle runs (the next run uses it); "active". Where the
    collections policy wants a second person (``strategy.second_person``), the first call asks
    ("requested") and only another strategy manager's call activates it."""
    from arrears.service.cases.policy import load_policy
    from arrears.service.errors import Forbidden

    require_current(app)
    s = version(app, version_id)
    sv = t.strategy_version
    now = app.clock()
    four_eyes = load_policy(app.settings.collections_policy_file).strategy.second_person
    with app.engine.begin() as conn:
        asked = conn.execute(
            select(sv.c.requested_by, sv.c.active).where(sv.c.version_id == version_id)
        ).one()
        if asked.active:
            return "active"
        if four_eyes and asked.requested_by is None:
            conn.execute(
                update(sv)
                .where(sv.c.version_id == version_id)
                .values(requested_by=by, requested_at=now)
            )
            audit.record(
                conn,
                "strategy_activation_requested",
                s.name,
                now,
                {"version_id": version_id, "by": by, "version": s.version},
            )
            return "requested"
        if four_eyes and asked.requested_by == by:
            raise Forbidden(
                f"version_id: {by} asked for this activation; a second strategy manager must "
                "approve it",
                field="version_id",
            )
        conn.execute(update(sv).where(sv.c.active).values(active=False))
        conn.execute(
            update(sv)
            .where(sv.c.version_id == version_id)
            .values(active=True, activated_by=by, activated_at=now)
        )
        audit.record(
            conn,
            "strategy_activated",
            s.name,
            now,
            {
                "version_id": version_id,
                "by": by,
                "requested_by": asked.requested_by,
                "version": s.version,
            },
        )
    return "active"


def experiment_results(app: App, since: date, until: date) -> list[dict[str, Any]]:
    """Each experiment arm over [since, until]: accounts treated, and how many paid within 7
    days of their first treatment in the arm (a payment posted, not reversed)."""
    pa_, pay = t.plan_action, t.payment
    with app.engine.connect() as conn:
        first = (
            select(pa_.c.arm, pa_.c.loan_id, func.min(pa_.c.business_date).label("first"))
            .where(
                pa_.c.arm.is_not(None), pa_.c.business_date >= since, pa_.c.business_date <= until
            )
            .group_by(pa_.c.arm, pa_.c.loan_id)
        ).subquery()
        treated: dict[str, int] = dict(
            conn.execute(select(first.c.arm, func.count()).group_by(first.c.arm)).all()
        )
        paid_rows = conn.execute(
            select(first.c.arm, first.c.loan_id, first.c.first, pay.c.paid_on).select_from(
                first.join(
                    pay,
                    and_(
                        pay.c.loan_id == first.c.loan_id,
                        pay.c.status == "posted",
                        pay.c.paid_on >= first.c.first,
                    ),
                )
            )
        ).all()
    paid: dict[str, set[str]] = {}
    for arm, loan, start, paid_on in paid_rows:
        if paid_on <= start + timedelta(days=7):
            paid.setdefault(arm, set()).add(loan)
    return [
        {
            "arm": arm,
            "accounts": int(n),
            "paid_7d": len(paid.get(arm, ())),
            "rate": len(paid.get(arm, ())) / int(n) if n else None,
        }
        for arm, n in sorted(treated.items())
    ]
