"""The day's plan as one Ibis expression, so DuckDB (embedded) and Spark (scale-out) run the same
thing: account attributes from the history tables -> segment -> treatment steps -> suppressions
-> the compliance gate, vectorised from the rulebook's numbers -> queue and pool capacity.

The gate here is the plan-time view of the rulebook (``docs/STRATEGY.md``): each action is
checked at the opening of its send window, the instant the scalar gate would be asked about it,
against the same families in the same order (hours, holds, consent, third party, frequency,
content, disclosure), so the first rule that refuses is the one recorded. The dispatcher asks
the full gate again at send time.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from arrears.compliance.facts import CALLS as COMPLIANCE_CALLS
from arrears.compliance.facts import CONNECTED as COMPLIANCE_CONNECTED
from arrears.compliance.facts import MEDIUM as COMPLIANCE_MEDIUM
from arrears.compliance.rulebook import Rulebook
from arrears.compliance.rulebook import load as load_rulebook
from arrears.compliance.rules.frequency import NOT_CONNECTED as COMPLIANCE_NOT_CONNECTED
from arrears.cycle.accounts import _col
from arrears.cycle.snapshot import PLACEMENT, WAIVER
from arrears.ids import SEP
from arrears.strategy.attributes import MODEL_SCORES, SCORED_CHANNELS
from arrears.strategy.model import ALL_SEGMENTS, NONE, Step, Strategy
from arrears.strategy.vector import compile_expr

#: the compliance channel (see arrears.compliance.facts) of each strategy channel; agency and
#: legal referral are not contacts, so only holds apply to them
CONTACT = {
    "sms": "sms",
    "push": "push",
    "email": "email",
    "letter": "letter",
    "robocall": "robocall",
    "agent_call": "call",
    "visit": "visit",
}
#: the medium (for opt-outs and consents) of each contact channel
MEDIUM = {channel: COMPLIANCE_MEDIUM[contact] for channel, contact in CONTACT.items()}
#: which contact point kind carries each medium (push goes to the app: consents only)
POINT_KIND = {
    "sms": "phone",
    "call": "phone",
    "email": "email",
    "letter": "address",
    "visit": "address",
}
#: the order in which the holds rule reports hold kinds (arrears.compliance.rules.holds)
HOLD_ORDER = (
    "cease_request",
    "attorney_represented",
    "bankruptcy",
    "deceased",
    "complaint",
    "legal",
    "hardship",
    "dispute",
)
#: kinds that stop contact about every debt of the person, whatever debt they name
PERSON_HOLDS = frozenset(HOLD_ORDER[:4])
CONNECTED = tuple(sorted(COMPLIANCE_CONNECTED))
NOT_CONNECTED = tuple(sorted(COMPLIANCE_NOT_CONNECTED))
CALLS = tuple(sorted(COMPLIANCE_CALLS))


def _contains(listing: Any, item: str) -> Any:
    """``item`` is one of the comma-separated values of ``listing``."""
    return (ibis.literal(",") + listing + ibis.literal(",")).contains(f",{item},")


def with_borrowers(base: ir.Table, borrowers: ir.Table, windows: ir.Table) -> ir.Table:
    """The accounts with their borrower's locale and consents and, from ``windows``
    (:func:`arrears.cycle.accounts.windows`), the send window and day boundaries of the
    borrower's timezone and agreed window under the account's rulebook. An account whose
    borrower is missing keeps null windows (:func:`arrears.cycle.run.make_plan` quarantines it)."""
    bw = borrowers.select(
        b_id=borrowers.borrower_id,
        locale=borrowers.locale,
        consents=borrowers.consents,
        b_tz=borrowers.timezone,
        b_window=borrowers.contact_window.fill_null(""),
        preferred_channel=(
            borrowers.preferred_channel
            if "preferred_channel" in borrowers.columns
            else ibis.literal(None, "string")
        ).fill_null(""),
    )
    t = base.left_join(bw, base.borrower_id == bw.b_id)
    t = t.select([c for c in t.columns if c != "b_id"])
    w = windows.rename({"w_tz": "timezone", "w_window": "window_key", "w_book": "rulebook"})
    on = (t.b_tz == w.w_tz) & (t.b_window == w.w_window) & (t.rulebook == w.w_book)
    t = t.left_join(w, on)
    return t.select(
        [c for c in t.columns if c not in ("b_tz", "b_window", "w_tz", "w_window", "w_book")]
    )


def attributes(
    base: ir.Table,
    contacts: ir.Table,
    promises: ir.Table,
    holds: ir.Table,
    arrangements: ir.Table,
    points: ir.Table,
    as_of: date,
    books: dict[str, Rulebook],
    people: ir.Table | None = None,
    today: ir.Table | None = None,
) -> ir.Table:
    """``base`` with every strategy attribute and the gate's inputs, one row per loan.
    ``people``: a cheaper table with the same borrower_id values as ``base``, if there is one
    (the accounts before the borrower join)."""
    # read from the one-row ``today`` table (:func:`today_table`) when given, so that the
    # compiled query serves every day
    since = ibis.literal(as_of - timedelta(days=90)) if today is None else today.since.as_scalar()
    pr = promises.group_by("loan_id").aggregate(
        promise_active=(promises.status == "pending").any(),
        broken_promises=((promises.status == "broken") & (promises.settled_on >= since))
        .cast("int64")
        .sum(),
    )
    ar = arrangements.group_by("loan_id").aggregate(
        # an arrangement in force
        plan_active=arrangements.kind.notin([WAIVER, PLACEMENT]).any(),
        # placed with an agency: the in-house plan does not work it
        placed_with_agency=(arrangements.kind == PLACEMENT).any(),
    )
    who = base.select(
        a_loan=base.loan_id,
        a_borrower=base.borrower_id,
        a_ws=base.win_start,
        a_d0=base.t_p0,
        a_d1=base.t_p1,
        a_m7=base.t_m7,
        **{f"a_{_col(-n)}": base[_col(-n)] for n in range(0, 8)},
    )
    c = contacts
    person = who.join(c, who.a_borrower == c.borrower_id)
    out = person.role == "debtor"
    outbound = out & (person.direction == "outbound")
    per_person = person.group_by("a_loan").aggregate(
        contacts_last_7d=(outbound & (person.at >= person.a_m7) & (person.at < person.a_d0))
        .cast("int64")
        .sum(),
        connected_calls_today=(
            outbound
            & person.channel.isin(CALLS)
            & person.result.isin(CONNECTED)
            & (person.at >= person.a_d0)
            & (person.at <= person.a_ws)
        )
        .cast("int64")
        .sum(),
        last_contact_result=person.result.argmax(person.at, where=outbound),
    )
    debt = person.filter(person.loan_id.isnull() | (person.loan_id == person.a_loan))
    # what the borrower said last about this debt (or all of theirs): a collector's wrap-up
    said = debt.group_by("a_loan").aggregate(
        delinquency_reason=debt.reason.argmax(debt.at, where=debt.reason.notnull()),
        last_disposition=debt.disposition.argmax(debt.at, where=debt.disposition.notnull()),
    )
    calls = out & debt.channel.isin(CALLS) & (debt.at <= debt.a_ws)
    us_counts = ["us_calls_7d", *(f"us_talk_{n}" for n in range(0, 8))]
    per_debt = debt.group_by("a_loan").aggregate(
        us_calls_7d=(
            calls
            & (debt.direction == "outbound")
            & (debt.result.isnull() | debt.result.notin(NOT_CONNECTED))
            & (debt.at >= debt[f"a_{_col(-6)}"])
        )
        .cast("int64")
        .sum(),
        **{
            f"us_talk_{n}": (
                calls & (debt.result == "conversation") & (debt.at >= debt[f"a_{_col(-n)}"])
            )
            .cast("int64")
            .sum()
            for n in range(0, 8)
        },
    )
    hj = who.join(holds, who.a_borrower == holds.borrower_id)
    about = hj.kind.isin(tuple(PERSON_HOLDS)) | hj.loan_id.isnull() | (hj.loan_id == hj.a_loan)
    hj = hj.filter(about)
    rank = ibis.cases(*((hj.kind == k, i) for i, k in enumerate(HOLD_ORDER)), else_=None)

    def active(at: Any) -> Any:
        return (hj.starts_at <= at) & (hj.ends_at.isnull() | (at < hj.ends_at))

    hold_cols: dict[str, Any] = {"hold_active": active(hj.a_ws).any()}
    for book_id, book in books.items():
        allowed = hj.kind.isin(tuple(book.holds.kinds))
        for tag, at in (("h", hj.a_ws), ("d", hj.a_d0)):
            hold_cols[f"hold_{_safe(book_id)}_{tag}"] = rank.min(where=allowed & active(at))
    hd = hj.group_by("a_loan").aggregate(**hold_cols)
    # only the borrowers with an account in collection; a point without opt-outs counts none
    # (null, not searched)
    mine = points.filter(points.borrower_id.isin((base if people is None else people).borrower_id))
    pts = mine.group_by("borrower_id").aggregate(
        **{
            f"n_{kind}": (mine.kind == kind).cast("int64").sum()
            for kind in sorted(set(POINT_KIND.values()))
        },
        **{
            f"off_{medium}": ((mine.kind == kind) & _contains(mine.opt_outs, medium))
            .cast("int64")
            .sum()
            for medium, kind in POINT_KIND.items()
        },
    )
    t = base
    # the per-debt call counts only matter to rulebooks that limit calls per debt (us-regf)
    per_debt_rules = any(
        b.frequency.calls_per_debt_in_7_days is not None
        or b.frequency.quiet_days_after_conversation is not None
        for b in books.values()
        if b.applies("frequency")
    )
    joins = [
        (pr, "loan_id", "loan_id"),
        (ar, "loan_id", "loan_id"),
        (per_person, "loan_id", "a_loan"),
        (said, "loan_id", "a_loan"),
        (hd, "loan_id", "a_loan"),
        (pts, "borrower_id", "borrower_id"),
    ]
    if per_debt_rules:
        joins.append((per_debt, "loan_id", "a_loan"))
    for right, key, right_key in joins:
        t = _left_join(t, right, key, right_key)
    if not per_debt_rules:
        t = t.mutate(**{c: ibis.literal(0, "int64") for c in us_counts})
    counts = ["broken_promises", "contacts_last_7d", "connected_calls_today", "us_calls_7d"]
    counts += [f"us_talk_{n}" for n in range(0, 8)]
    flags = ["promise_active", "plan_active", "hold_active", "placed_with_agency"]
    consent = {}
    for channel, medium in MEDIUM.items():
        agreed = t.consents.isnull() | _contains(t.consents, channel)
        kind = POINT_KIND.get(medium)
        if kind is not None:
            n = t[f"n_{kind}"].fill_null(0)
            agreed &= ~((n > 0) & (t[f"off_{medium}"].fill_null(0) == n))
        consent[f"ok_{channel}"] = agreed
    consent |= {
        "consent_sms": consent["ok_sms"],
        "consent_push": consent["ok_push"],
        "consent_email": consent["ok_email"],
        "consent_call": consent["ok_agent_call"],
        "consent_letter": consent["ok_letter"],
    }
    return t.mutate(
        **{c: t[c].fill_null(0) for c in counts},
        **{f: t[f].fill_null(False) for f in flags},
        **consent,
    )


def _left_join(left: ir.Table, right: ir.Table, key: str, right_key: str) -> ir.Table:
    """``left`` with ``right``'s columns (one row per key on the right), the key once."""
    right = right.rename({"k_join": right_key})
    joined = left.left_join(right, left[key] == right.k_join)
    return joined.select([c for c in joined.columns if c != "k_join" and not c.endswith("_right")])


def _safe(book_id: str) -> str:
    return book_id.replace("-", "_")


def _segment(t: ir.Table, strategy: Strategy) -> Any:
    *first, (last, _) = strategy.segments
    return ibis.cases(
        *((compile_expr(node, t).fill_null(False), name) for name, node in first), else_=last
    )


def _arm_expr(t: ir.Table, strategy: Strategy, experiment: str) -> Any:
    e = next(x for x in strategy.experiments if x.name == experiment)
    col = t[f"xb_{experiment}"]
    *first, (last, _) = e.edges()
    return ibis.cases(*((col < edge, name) for name, edge in first), else_=last)


def _fires(t: ir.Table, step: Step) -> Any:
    parts = []
    if step.on_days:
        parts.append(t.dpd.isin(list(step.on_days)))
    if step.every is not None and step.from_day is not None:
        cond = (t.dpd >= step.from_day) & ((t.dpd - step.from_day) % step.every == 0)
        if step.to_day is not None:
            cond &= t.dpd <= step.to_day
        parts.append(cond)
    out = parts[0]
    for p in parts[1:]:
        out |= p
    return out


def _lit(value: object, kind: str = "string") -> Any:
    return ibis.literal(value, type=kind)


def _step_rows(t: ir.Table, strategy: Strategy, step: Step, as_of: date) -> ir.Table:
    cond = (t.stage == step.stage) & _fires(t, step)
    if step.segment != ALL_SEGMENTS:
        cond &= t.segment == step.segment
    if step.when is not None:
        cond &= compile_expr(step.when, t).fill_null(False)
    if step.experiment is not None:
        cond &= _arm_expr(t, strategy, step.experiment) == step.arm
    rows = t.filter(cond)
    scored = [rows[f"uplift_{c}"] for c in SCORED_CHANNELS if f"uplift_{c}" in rows.columns]
    if step.channel == NONE and scored:
        # worth nothing over doing nothing, when the account is scored at all (unscored, the
        # first compliant option listed is taken, as for every option)
        score: Any = ibis.ifelse(
            ibis.coalesce(*scored).notnull(), _lit(0.0, "float64"), _lit(None, "float64")
        )
    elif step.channel == NONE:
        score = _lit(None, "float64")
    elif step.channel in SCORED_CHANNELS and f"uplift_{step.channel}" in rows.columns:
        score = rows[f"uplift_{step.channel}"]
        if step.group is not None and "withheld" in rows.columns:
            # the option's place went to another account: the policy passes over it
            gone = rows.withheld.fill_null("").contains(f",{step.id},")
            score = ibis.ifelse(gone, _lit(None, "float64"), score)
    else:
        score = _lit(None, "float64")
    return rows.mutate(
        grp=_lit(step.group),
        opt=_lit(step.option, "int64"),
        bit=_lit(1 << step.option, "int64"),
        # the choice's place among the day's choices: its draws are shifted by it
        first_order=_lit(step.order - step.option, "int64"),
        score=score,
        step_id=_lit(step.id),
        step_order=_lit(step.order, "int64"),
        channel=_lit(step.channel),
        template=_lit(step.template),
        queue=_lit(step.queue),
        pool=_lit(step.pool),
        collectors=_lit(step.collectors, "int64"),
        priority=compile_expr(step.priority, rows).cast("float64").fill_null(0.0),
        experiment=_lit(step.experiment),
        arm=_lit(step.arm),
    )


def _suppression(t: ir.Table, strategy: Strategy) -> Any:
    branches = [
        (
            compile_expr(s.when, t).fill_null(False) & t.channel.isin(sorted(s.channels)),
            f"suppression.{s.name}",
        )
        for s in strategy.suppressions
    ]
    return ibis.cases(*branches, else_=_lit(None)) if branches else _lit(None)


def _gate_for(t: ir.Table, book: Rulebook) -> tuple[Any, Any, Any]:
    """(window start, window end, first refusing rule) for actions under ``book``."""
    contact = t.channel.substitute(CONTACT, else_=_lit(None))
    in_hours = contact.isin(list(book.hours.channels)).fill_null(False)
    ws = ibis.ifelse(in_hours, t.win_start, t.t_p0)
    we = ibis.ifelse(in_hours, t.win_end, t.t_p1)
    tag = _safe(book.id)
    hold_rank = ibis.ifelse(in_hours, t[f"hold_{tag}_h"], t[f"hold_{tag}_d"])
    rules: list[tuple[Any, Any]] = [
        (hold_rank == i, _lit(f"{book.id}.holds.{k}")) for i, k in enumerate(HOLD_ORDER)
    ]
    if book.applies("consent") and book.consent.honour_opt_outs:
        for channel in MEDIUM:
            rules.append(
                ((t.channel == channel) & ~t[f"ok_{channel}"], _lit(f"{book.id}.consent.opt_out"))
            )
    if book.applies("frequency"):
        f = book.frequency
        is_call = t.channel.isin(["agent_call", "robocall"])
        if f.connected_calls_per_person_per_day is not None:
            rules.append(
                (
                    is_call & (t.connected_calls_today >= f.connected_calls_per_person_per_day),
                    _lit(f"{book.id}.frequency.connected_calls_per_day"),
                )
            )
        if f.calls_per_debt_in_7_days is not None:
            rules.append(
                (
                    is_call & (t.us_calls_7d >= f.calls_per_debt_in_7_days),
                    _lit(f"{book.id}.frequency.seven_in_seven"),
                )
            )
        quiet = f.quiet_days_after_conversation
        if quiet is not None:
            if not 1 <= quiet <= 8:
                raise ValueError(f"{book.id}: quiet_days_after_conversation must be 1..8 here")
            talk = t[f"us_talk_{quiet - 1}"]
            rules.append((is_call & (talk > 0), _lit(f"{book.id}.frequency.after_conversation")))
    d = book.disclosure
    if book.applies("disclosure") and d.visit_min_collectors is not None:
        rules.append(
            (
                (t.channel == "visit") & (t.collectors.fill_null(0) < d.visit_min_collectors),
                _lit(f"{book.id}.disclosure.visit_collectors"),
            )
        )
    if not book.applies("holds"):
        rules = rules[len(HOLD_ORDER) :]
    rule = ibis.cases(*((c.fill_null(False), r) for c, r in rules), else_=_lit(None))
    return ws, we, rule


def due_today(t: ir.Table, strategy: Strategy) -> Any:
    """Whether any step of the strategy fires today for the account (its stage and days past
    due alone; segments, conditions and arms are looked at later, on these accounts only)."""
    cond = None
    for step in strategy.steps:
        fires = (t.stage == step.stage) & _fires(t, step)
        cond = fires if cond is None else cond | fires
    return ibis.literal(False) if cond is None else cond.fill_null(False)


def in_collection(features: ir.Table) -> ir.Table:
    """The accounts in a collection stage, with what only went into their attributes dropped."""
    t = features.filter(features.stage.notnull())
    spent = {"consents", "prior_stage", "prior_since", *(_col(-n) for n in range(1, 8))}
    spent |= {c for c in t.columns if c.startswith(("n_", "off_"))}
    return t.select([c for c in t.columns if c not in spent])


#: what the cycle works out for each acting account before the plan when the strategy uses
#: models or makes choices (:func:`arrears.cycle.run.decision_inputs`): the model scores and
#: the account's two keyed draws for the day's choices
INPUTS = {
    "loan_id": "string",
    "u_explore": "float64",
    "u_pick": "float64",
    **dict.fromkeys(MODEL_SCORES, "float64"),
    # the choice options whose queue or pool place went to others (``,<step id>,...,``:
    # :func:`arrears.cycle.capacity.reserve`); null when none was withheld
    "withheld": "string",
}


def with_segments(accts: ir.Table, strategy: Strategy, inputs: ir.Table | None = None) -> ir.Table:
    """The accounts with their model scores and draws (``inputs``, when the strategy uses
    them), each with its segment (the first that matches)."""
    t = accts
    if inputs is not None:
        t = _left_join(t, inputs, "loan_id", "loan_id")
    return t.mutate(segment=_segment(t, strategy))


def _union(tables: list[ir.Table]) -> ir.Table:
    return tables[0] if len(tables) == 1 else ibis.union(*tables, distinct=False)


def _decided(a: ir.Table, strategy: Strategy, books: dict[str, Rulebook]) -> ir.Table:
    """Candidate actions with their suppression, send window, blocking rule and lane."""
    a = a.mutate(suppressed=_suppression(a, strategy))
    ws = we = rule = None
    for book_id, book in books.items():
        bws, bwe, brule = _gate_for(a, book)
        hit = a.rulebook == book_id
        ws = bws if ws is None else ibis.ifelse(hit, bws, ws)
        we = bwe if we is None else ibis.ifelse(hit, bwe, we)
        rule = brule if rule is None else ibis.ifelse(hit, brule, rule)
    # doing nothing is always allowed: no rule refuses it
    rule = ibis.ifelse(a.channel == NONE, _lit(None), rule)
    a = a.mutate(window_start=ws, window_end=we, blocked=rule)
    a = a.mutate(lane=ibis.coalesce(a.queue, a.pool))
    return a.mutate(eligible=a.suppressed.isnull() & a.blocked.isnull() & a.lane.notnull())


#: the golden ratio's fraction: the day's n-th choice for an account shifts its draws by n times
#: this (mod 1), so two choices of one day are not drawn alike
SHIFT = 0.6180339887498949


def _frac(x: Any) -> Any:
    return x - x.floor()


def _choose(g: ir.Table, strategy: Strategy) -> ir.Table:
    """Each choice's options (one row each, gated) down to the one taken: the policy's (the
    compliant option with the highest score, else the first compliant one listed) or, for the
    stage's exploration share, one drawn uniformly among the compliant options. Kept with it:
    the compliant options (a bit mask of their places), how many, the probability of the one
    taken and whether it was explored. A choice with no compliant option keeps its first row,
    blocked or suppressed as it is."""
    ok = g.suppressed.isnull() & g.blocked.isnull()
    okn = ok.cast("int64")
    part = [g.loan_id, g.grp]
    whole = ibis.window(group_by=part)
    by_policy = ibis.window(
        group_by=part,
        order_by=[ibis.desc(okn), ibis.desc(g.score.fill_null(-1e18)), g.opt],
    )
    by_place = ibis.window(group_by=part, order_by=[ibis.desc(okn), g.opt])
    g = g.mutate(
        okn=okn,
        n_ok=okn.sum().over(whole),
        mask=(okn * g.bit).sum().over(whole),
        r_policy=ibis.row_number().over(by_policy),
        r_place=ibis.row_number().over(by_place),
    )
    shift = g.first_order.cast("float64") * SHIFT
    eps = g.stage.substitute(strategy.explore, else_=_lit(0.0, "float64")).cast("float64")
    explored = _frac(g.u_explore + shift) < eps
    pick = (_frac(g.u_pick + shift) * g.n_ok).floor().cast("int64")
    policy = (g.okn == 1) & (g.r_policy == 0)
    drawn = (g.okn == 1) & (g.r_place == pick)
    chosen = ibis.ifelse(explored, drawn, policy)
    g = g.mutate(
        explored=explored & (g.n_ok > 0),
        propensity=ibis.ifelse(
            chosen,
            (1 - eps) * policy.cast("float64") + eps / g.n_ok.cast("float64"),
            _lit(None, "float64"),
        ),
        keep=chosen | ((g.n_ok == 0) & (g.r_place == 0)),
    )
    g = g.filter(g.keep)
    return g.drop("okn", "r_policy", "r_place", "keep")


def _fixed(a: ir.Table) -> ir.Table:
    """A step that is not a choice, as a decision: its one treatment, when compliant, taken
    with probability 1."""
    ok = a.suppressed.isnull() & a.blocked.isnull()
    return a.mutate(
        n_ok=ok.cast("int64"),
        mask=ok.cast("int64"),
        explored=_lit(False, "boolean"),
        propensity=ibis.ifelse(ok, _lit(1.0, "float64"), _lit(None, "float64")),
    )


def today_table(as_of: date) -> pa.Table:
    """The business date as the one-row table the compiled queries read it from."""
    return pa.table(
        {
            "as_of": pa.array([as_of], pa.date32()),
            "since": pa.array([as_of - timedelta(days=90)], pa.date32()),
            "day": pa.array([f"{as_of.isoformat()}{SEP}"], pa.string()),
        }
    )


def build_plan(
    t: ir.Table,
    strategy: Strategy,
    as_of: date,
    books: dict[str, Rulebook],
    today: ir.Table | None = None,
) -> ir.Table:
    """Every action the strategy wants today, with its status and the rule behind it, from the
    accounts of :func:`with_segments`; each with the decision it came of (the compliant
    options, the probability of the one taken) and the attributes it was decided on
    (:data:`DECIDED_ON`). A choice that did nothing is a ``skipped`` row of channel ``none``."""
    if not strategy.steps:
        raise ValueError("the strategy has no treatment steps")
    plain = [s for s in strategy.steps if s.group is None]
    chosen = None
    if strategy.chooses:
        grouped = [s for s in strategy.steps if s.group is not None]
        rows = _union([_step_rows(t, strategy, s, as_of) for s in grouped])
        chosen = _choose(_decided(rows, strategy, books), strategy)
    # actions of steps with a queue or pool are ranked against its capacity; the others
    # (messages, letters ...) need no ranking, so the engine never sorts them
    queued = [s for s in plain if s.queue is not None or s.pool is not None]
    direct = [s for s in plain if s.queue is None and s.pool is None]
    d_parts, q_parts = [], []
    if direct:
        rows = _union([_step_rows(t, strategy, s, as_of) for s in direct])
        d_parts.append(_fixed(_decided(rows, strategy, books)))
    if queued:
        rows = _union([_step_rows(t, strategy, s, as_of) for s in queued])
        q_parts.append(_fixed(_decided(rows, strategy, books)))
    if chosen is not None:
        cols = d_parts[0].columns if d_parts else q_parts[0].columns if q_parts else None
        if cols is not None:
            chosen = chosen.select(*cols)
        d_parts.append(chosen.filter(chosen.lane.isnull()))
        q_parts.append(chosen.filter(chosen.lane.notnull()))
    parts = []
    if d_parts:
        parts.append(_union(d_parts).mutate(rank=_lit(None, "int64")))
    if q_parts:
        q = _union(q_parts)
        w = ibis.window(
            group_by=[q.lane, q.eligible],
            order_by=[ibis.desc(q.priority), q.loan_id, q.step_order],
        )
        parts.append(q.mutate(rank=ibis.row_number().over(w)))
    a = _union(parts)
    capacity = {**strategy.queues, **strategy.pools}
    cap = a.lane.substitute(capacity, else_=_lit(None, "int64"))
    over = (a.eligible & (a.rank >= cap)).fill_null(False)  # row_number counts from 0
    status = ibis.cases(
        (a.channel == NONE, "skipped"),
        (a.suppressed.notnull(), "suppressed"),
        (a.blocked.notnull(), "blocked"),
        (over, "cut"),
        else_="planned",
    )
    reason = ibis.coalesce(
        ibis.ifelse(
            a.channel == NONE,
            ibis.ifelse(a.explored, _lit("choice.explored"), _lit("choice.policy")),
            _lit(None),
        ),
        a.suppressed,
        a.blocked,
        ibis.ifelse(over, ibis.literal("capacity.") + a.lane, _lit(None)),
    )
    day: Any = ibis.literal(f"{as_of.isoformat()}{SEP}")
    business_date: Any = ibis.literal(as_of)
    if today is not None:
        day, business_date = today.day.as_scalar(), today.as_of.as_scalar()
    return a.select(
        action_id=day + a.loan_id + ibis.literal(SEP) + a.step_id,
        business_date=business_date,
        loan_id=a.loan_id,
        borrower_id=a.borrower_id,
        portfolio_id=a.portfolio,
        stage=a.stage,
        segment=a.segment,
        step_id=a.step_id,
        step_order=a.step_order,
        channel=a.channel,
        template=a.template,
        queue=a.queue,
        pool=a.pool,
        locale=a.locale,
        priority=a.priority,
        experiment=a.experiment,
        arm=a.arm,
        window_start=a.window_start,
        window_end=a.window_end,
        status=status,
        rule=reason,
        account_seq=a.account_seq,
        decision=a.grp.fill_null(a.step_id),
        n_ok=a.n_ok,
        options_ok=a.mask,
        propensity=a.propensity,
        explored=a.explored,
        **{f"x_{name}": a[name] for name in DECIDED_ON},
    ).order_by(["account_seq", "step_order"])


#: the attributes each decision is logged with (the models' features): the decision log's
#: ``x_`` columns (docs/LEARNING.md)
DECIDED_ON = (
    "dpd",
    "days_in_stage",
    "total_due",
    "overdue_principal",
    "overdue_penalty",
    "outstanding_principal",
    "score",
    "broken_promises",
    "promise_active",
    "plan_active",
    "contacts_last_7d",
    "paid_today_share",
    "consent_sms",
    "consent_call",
    "last_contact_result",
    "delinquency_reason",
    "last_disposition",
    "product",
)


def rulebooks(ids: list[str]) -> dict[str, Rulebook]:
    return {i: load_rulebook(i) for i in sorted(set(ids))}
