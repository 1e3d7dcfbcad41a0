"""Call quality by collector, team and agency, breaches by category, and the complaints tied to
the calls they concern: what the supervisor's and the compliance officer's QA page shows.

A collector's **QA score** is the mean scorecard score of their inspected calls, a call with a
confirmed breach counting 0. A **team** is the first work queue a collector is assigned (the
queue a supervisor runs); an agency's score is over its users' calls."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from arrears.bootstrap import App
from arrears.service.store import require_current
from arrears.store import tables as t
from arrears.store.db import as_utc


@dataclass
class Tally:
    who: str
    calls: int = 0
    total: int = 0  # the sum of scores
    flagged: int = 0
    confirmed: int = 0

    @property
    def score(self) -> float | None:
        return round(self.total / self.calls, 1) if self.calls else None


@dataclass
class Quality:
    by_collector: list[Tally] = field(default_factory=list)
    by_team: list[Tally] = field(default_factory=list)
    by_agency: list[Tally] = field(default_factory=list)
    #: confirmed breaches by category (prohibited language's category, or the rule's name)
    by_category: list[tuple[str, int]] = field(default_factory=list)
    complaints: list[dict[str, Any]] = field(default_factory=list)


def _people(conn: Any) -> dict[str, tuple[str | None, str | None]]:
    """Each collector id's team (first queue) and agency."""
    su = t.staff_user
    out: dict[str, tuple[str | None, str | None]] = {}
    for r in conn.execute(select(su.c.collector_id, su.c.username, su.c.queues, su.c.agency)):
        team = (r.queues or "").split(",")[0] or None
        for key in {r.collector_id, r.username} - {None}:
            out[str(key)] = (team, r.agency)
    return out


def _categories(rows: list[Any]) -> list[tuple[str, int]]:
    counts: dict[str, int] = defaultdict(int)
    for r in rows:
        for rule in json.loads(r.rules or "[]"):
            if r.kind == "qa":
                if rule.get("kind") in ("prohibited", "debt_before_check"):
                    counts[str(rule.get("code"))] += 1
            else:
                counts[str(rule.get("rule") or r.kind)] += 1
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def quality(app: App) -> Quality:
    require_current(app)
    ca, tr, a = t.contact_attempt, t.call_transcript, t.conduct_alert
    with app.engine.connect() as conn:
        people = _people(conn)
        scored = conn.execute(
            select(ca.c.attempt_id, ca.c.collector_id, tr.c.score, tr.c.flagged)
            .select_from(tr.join(ca, ca.c.attempt_id == tr.c.attempt_id))
            .where(tr.c.status == "done", tr.c.score.is_not(None))
        ).all()
        confirmed = conn.execute(
            select(a.c.kind, a.c.attempt_id, a.c.collector_id, a.c.agency, a.c.rules).where(
                a.c.status == "confirmed"
            )
        ).all()
        complaints = _complaints(conn)
    breached = {r.attempt_id for r in confirmed if r.kind == "qa"}
    tallies: dict[str, dict[str, Tally]] = {"c": {}, "t": {}, "a": {}}
    for r in scored:
        who = str(r.collector_id or "-")
        team, agency = people.get(who, (None, None))
        points = 0 if r.attempt_id in breached else int(r.score)
        for kind, key in (("c", who), ("t", team), ("a", agency)):
            if key is None:
                continue
            x = tallies[kind].setdefault(key, Tally(key))
            x.calls += 1
            x.total += points
            x.flagged += bool(r.flagged)
            x.confirmed += r.attempt_id in breached
    return Quality(
        by_collector=order(tallies["c"].values()),
        by_team=order(tallies["t"].values()),
        by_agency=order(tallies["a"].values()),
        by_category=_categories(list(confirmed)),
        complaints=complaints,
    )


def order(xs: Any) -> list[Tally]:
    """Lowest score first (who needs coaching), then by name."""
    return sorted(xs, key=lambda x: (x.score if x.score is not None else 101, x.who))


def _complaints(conn: Any) -> list[dict[str, Any]]:
    """Complaints that concern a call, newest first, with the call's score."""
    c, link, ca, tr = t.complaint, t.complaint_attempt, t.contact_attempt, t.call_transcript
    rows = conn.execute(
        select(
            c.c.complaint_id,
            c.c.category,
            c.c.status,
            c.c.received_at,
            ca.c.attempt_id,
            ca.c.loan_id,
            ca.c.channel,
            ca.c.collector_id,
            tr.c.score,
            tr.c.flagged,
        )
        .select_from(
            c.join(link, link.c.complaint_id == c.c.complaint_id)
            .join(ca, ca.c.attempt_id == link.c.attempt_id)
            .outerjoin(tr, tr.c.attempt_id == ca.c.attempt_id)
        )
        .where(ca.c.channel.in_(("call", "robocall")))
        .order_by(c.c.received_at.desc())
        .limit(200)
    ).mappings()
    return [{**r, "received_at": as_utc(r["received_at"])} for r in rows]
