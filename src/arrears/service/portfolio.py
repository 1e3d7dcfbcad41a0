"""The portfolio on a date: every loan's delinquency, stored as that day's snapshot, and counts
and balances by bucket and by stage."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from arrears.bootstrap import App
from arrears.domain.delinquency import DEFAULT_BUCKETS, DEFAULT_STAGES, SETTLED, statement
from arrears.service.store import require_current
from arrears.store.repository import LoanRepository, snapshot_row, write_snapshots

SNAPSHOT_BATCH = 5000


@dataclass
class Line:
    """One row of the report: a bucket or a stage."""

    name: str
    loans: int = 0
    outstanding_principal: int = 0
    overdue: int = 0
    total_due: int = 0

    def add(self, row: dict[str, Any]) -> None:
        self.loans += 1
        self.outstanding_principal += row["outstanding_principal"]
        self.overdue += (
            row["overdue_principal"]
            + row["overdue_interest"]
            + row["overdue_fee"]
            + row["overdue_penalty"]
        )
        self.total_due += row["total_due"]


@dataclass
class PortfolioReport:
    as_of: date
    loans: int = 0
    by_bucket: dict[str, Line] = field(default_factory=dict)
    by_stage: dict[str, Line] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        def lines(d: dict[str, Line]) -> list[dict[str, Any]]:
            return [vars(x) for x in d.values()]

        return {
            "as_of": self.as_of.isoformat(),
            "loans": self.loans,
            "by_bucket": lines(self.by_bucket),
            "by_stage": lines(self.by_stage),
        }


def _empty(as_of: date) -> PortfolioReport:
    return PortfolioReport(
        as_of=as_of,
        by_bucket={n: Line(n) for n in [*DEFAULT_BUCKETS.names, SETTLED]},
        by_stage={n: Line(n) for n in [*DEFAULT_STAGES.names, SETTLED]},
    )


def portfolio_report(
    app: App,
    as_of: date,
    *,
    portfolio_id: str | None = None,
    progress: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
) -> PortfolioReport:
    """Compute every loan's delinquency on ``as_of``, store the day's snapshot, and report."""
    require_current(app)
    report = _empty(as_of)
    with app.engine.connect() as read, app.engine.begin() as write:
        repo = LoanRepository(read)
        if on_total:
            on_total(repo.count())
        batch: list[dict[str, Any]] = []
        for pid, loan in repo.iter_all():
            if portfolio_id is not None and pid != portfolio_id:
                continue
            row = snapshot_row(pid, statement(loan, as_of, explain=False))
            report.loans += 1
            report.by_bucket[row["bucket"] or SETTLED].add(row)
            report.by_stage[row["stage"]].add(row)
            batch.append(row)
            if len(batch) >= SNAPSHOT_BATCH:
                write_snapshots(write, batch)
                if progress:
                    progress(len(batch))
                batch = []
        write_snapshots(write, batch)
        if progress:
            progress(len(batch))
    return report
