"""The portfolio on a date: every loan's delinquency, stored as that day's snapshot, and counts
and balances by bucket and by stage."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Engine

from arrears.bootstrap import App
from arrears.domain.delinquency import SETTLED, statement
from arrears.parallel import ordered_map
from arrears.service.books.bands import Bands, bands_for
from arrears.service.store import require_current
from arrears.store.db import make_engine
from arrears.store.repository import LoanRepository, snapshot_row, write_snapshots

SLICE_LOANS = 5000  # loans per unit of work (and per snapshot write)


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


def _empty(as_of: date, bands: Bands) -> PortfolioReport:
    return PortfolioReport(
        as_of=as_of,
        by_bucket={n: Line(n) for n in [*bands.buckets.names, SETTLED]},
        by_stage={n: Line(n) for n in [*bands.stages.names, SETTLED]},
    )


def _snapshot_rows(
    url: str,
    after: str | None,
    upto: str | None,
    as_of: date,
    portfolio_id: str | None,
    bands: Bands,
) -> list[dict[str, Any]]:
    """One slice of the portfolio, computed in a worker process with its own connection."""
    engine = _worker_engine(url)
    b, s = bands.buckets, bands.stages
    with engine.connect() as conn:
        return [
            snapshot_row(pid, statement(loan, as_of, buckets=b, stages=s, explain=False))
            for pid, loan in LoanRepository(conn).iter_range(after, upto)
            if portfolio_id is None or pid == portfolio_id
        ]


_ENGINES: dict[str, Engine] = {}


def _worker_engine(url: str) -> Engine:
    if url not in _ENGINES:
        _ENGINES[url] = make_engine(url)
    return _ENGINES[url]


def _slices(app: App, slice_loans: int) -> list[tuple[str | None, str | None]]:
    with app.engine.connect() as conn:
        cuts: list[str | None] = [*LoanRepository(conn).boundaries(slice_loans)]
    return list(zip([None, *cuts], [*cuts, None], strict=True))


def portfolio_report(
    app: App,
    as_of: date,
    *,
    portfolio_id: str | None = None,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
) -> PortfolioReport:
    """Compute every loan's delinquency on ``as_of``, store the day's snapshot, and report.

    With ``workers`` > 1, slices of the loan book are computed in that many processes, each
    reading the store itself; this process writes the snapshot and adds up the report.
    """
    require_current(app)
    bands = bands_for(app.settings)
    report = _empty(as_of, bands)
    if on_total:
        with app.engine.connect() as conn:
            on_total(LoanRepository(conn).count())
    url = app.engine.url.render_as_string(hide_password=False)
    slices = _slices(app, SLICE_LOANS)
    with app.engine.begin() as write:
        jobs = ((url, after, upto, as_of, portfolio_id, bands) for after, upto in slices)
        for rows in ordered_map(_snapshot_rows, jobs, workers if len(slices) > 1 else 1):
            for row in rows:
                report.loans += 1
                report.by_bucket[row["bucket"] or SETTLED].add(row)
                report.by_stage[row["stage"]].add(row)
            write_snapshots(write, rows)
            if progress:
                progress(len(rows))
    return report
