"""Commands on the store and its data: init, generate, ingest, statement, portfolio, the
compliance check and lint, the evidence log."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from arrears.domain.money import format_minor

if TYPE_CHECKING:
    from arrears.store.ingest.loader import IngestRejected

from arrears.cli.common import _app, _as_of, _errors, _fail, _progress, app, err, out


@app.command()
def init() -> None:
    """Create the store (or bring its schema up to date)."""
    from arrears.service.store import init_store

    a = _app()
    revision = init_store(a)
    out.print(f"store ready at schema revision {revision}: {a.engine.url.render_as_string()}")


@app.command()
def generate(
    out_dir: Annotated[Path, typer.Option("--out", help="folder to write the files to")],
    loans: Annotated[int, typer.Option(help="number of loans")] = 10_000,
    seed: Annotated[int, typer.Option(help="random seed; the same seed gives the same files")] = 1,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="payments are simulated up to this date, YYYY-MM-DD"),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv, parquet or jsonl")] = "csv",
    workers: Annotated[int, typer.Option(help="processes to use")] = 1,
) -> None:
    """Write a realistic portfolio in the ingestion format."""
    from arrears.generate.portfolio import Options
    from arrears.generate.portfolio import generate as run

    day = _as_of(as_of)
    opts = Options(loans=loans, seed=seed, as_of=day, fmt=fmt, workers=max(workers, 1))
    with _progress() as bar:
        task = bar.add_task("generating loans", total=loans)
        try:
            counts = run(out_dir, opts, progress=lambda n: bar.advance(task, n))
        except ValueError as exc:
            _fail(str(exc))
    table = Table(title=f"generated into {out_dir} (as of {day}, seed {seed})")
    table.add_column("file")
    table.add_column("rows", justify="right")
    for name, n in counts.items():
        table.add_row(f"{name}.{fmt}", f"{n:,}")
    out.print(table)


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="a folder, or files, to load")],
    errors_csv: Annotated[
        Path | None, typer.Option("--errors", help="write every rejected row to this CSV")
    ] = None,
) -> None:
    """Load borrowers, contact points, loans, instalments and payments (all or nothing)."""
    from arrears.service.daily.ingestion import ingest_files, plan
    from arrears.store.ingest.loader import IngestRejected

    a = _app()
    with _errors():
        sources = plan(paths)
        with _progress() as bar:
            tasks = {s.path: bar.add_task(s.path.name, total=s.size) for s in sources}
            try:
                report = ingest_files(
                    a,
                    paths,
                    errors_csv=errors_csv,
                    progress=lambda s, n: bar.advance(tasks[s.path], n),
                )
            except IngestRejected as exc:
                bar.stop()
                _report_rejection(exc, errors_csv)
                return
            for s in sources:
                bar.update(tasks[s.path], completed=s.size)
    table = Table(title="ingested (upserted by the lender's ids)")
    table.add_column("entity")
    table.add_column("rows", justify="right")
    for name, n in report.counts.items():
        table.add_row(name, f"{n:,}")
    out.print(table)


def _report_rejection(exc: IngestRejected, errors_csv: Path | None) -> None:
    err.print(f"[bold red]rejected:[/] {exc.total:,} row error(s); nothing was written.")
    for e in exc.errors[:20]:
        err.print(f"  {e}", highlight=False, markup=False)
    if exc.total > 20:
        more = f"  ... and {exc.total - 20:,} more"
        err.print(more + (f" (all in {errors_csv})" if errors_csv else "; use --errors out.csv"))
    raise typer.Exit(2)


@app.command()
def statement(
    as_of: Annotated[str, typer.Option("--as-of", help="the date, YYYY-MM-DD")],
    loan: Annotated[Path | None, typer.Option("--loan", help="a LOAN.json file")] = None,
    loan_id: Annotated[str | None, typer.Option("--loan-id", help="a loan in the store")] = None,
) -> None:
    """Print what a loan owes on a date and how every amount was computed, as JSON."""
    from arrears.service.books.statements import statement_for_loan, statement_from_file

    if (loan is None) == (loan_id is None):
        _fail("give exactly one of --loan FILE or --loan-id ID")
    day = _as_of(as_of)
    with _errors():
        if loan is not None:
            from arrears.service.books.bands import bands_for
            from arrears.settings import get_settings

            result = statement_from_file(loan, day, bands_for(get_settings()))
        else:
            assert loan_id is not None
            result = statement_for_loan(_app(), loan_id, day)
    sys.stdout.write(json.dumps(result, ensure_ascii=False, indent=2) + "\n")


def _lines_table(title: str, lines: list[dict[str, Any]], total: int, currency: str) -> Table:
    table = Table(title=title, caption=f"amounts in {currency}")
    table.add_column("", no_wrap=True)
    table.add_column("loans", justify="right", no_wrap=True)
    table.add_column("share", no_wrap=True)
    for name in ("outstanding principal", "overdue", "total due"):
        table.add_column(name, justify="right", no_wrap=True)
    biggest = max((line["loans"] for line in lines), default=0) or 1
    for line in lines:
        share = line["loans"] / total if total else 0.0
        bar = "█" * round(12 * line["loans"] / biggest)  # bars scaled to the largest line
        table.add_row(
            line["name"],
            f"{line['loans']:,}",
            f"{bar:<12} {share:>6.1%}",
            format_minor(line["outstanding_principal"], currency),
            format_minor(line["overdue"], currency),
            format_minor(line["total_due"], currency),
        )
    return table


@app.command()
def portfolio(
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="the date, YYYY-MM-DD; today if omitted")
    ] = None,
    portfolio_id: Annotated[
        str | None, typer.Option("--portfolio", help="only this portfolio")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of tables")] = False,
    workers: Annotated[int, typer.Option(help="processes to use")] = os.cpu_count() or 1,
) -> None:
    """Counts and balances by DPD bucket and by stage (stores the day's snapshot)."""
    from arrears.service.daily.snapshots import portfolio_report

    a = _app()
    day = _as_of(as_of, a)
    with _errors(), _progress() as bar:
        task = bar.add_task(f"delinquency as of {day}", total=None)
        on_total: Callable[[int], None] = lambda n: bar.update(task, total=n)  # noqa: E731
        report = portfolio_report(
            a,
            day,
            portfolio_id=portfolio_id,
            workers=workers,
            progress=lambda n: bar.advance(task, n),
            on_total=on_total,
        )
    data = report.as_dict()
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        return
    out.print(
        _lines_table(f"portfolio by bucket, as of {day}", data["by_bucket"], report.loans, "CNY")
    )
    out.print(
        _lines_table(f"portfolio by stage, as of {day}", data["by_stage"], report.loans, "CNY")
    )
    out.print(f"{report.loans:,} loans; snapshot stored for {day}.")


@app.command()
def check(
    rulebook: Annotated[str, typer.Option(help="cn, us-regf, or a rulebook YAML file")] = "cn",
    request: Annotated[
        Path | None, typer.Option(help="a JSON request file; standard input if omitted")
    ] = None,
    locale: Annotated[str, typer.Option(help="language of the reasons: en or zh-CN")] = "en",
    record: Annotated[
        bool, typer.Option("--record", help="append the decision to the evidence log")
    ] = False,
) -> None:
    """Decide whether one contact attempt is allowed (JSON in, JSON out)."""
    from arrears.compliance.gate import check as decide
    from arrears.compliance.rulebook import RulebookError, load
    from arrears.compliance.wire import decision_to_dict, request_from_dict
    from arrears.domain.codec import FieldError
    from arrears.parsing import ParseLimit, load_json

    where = str(request) if request else "stdin"
    try:
        text = request.read_text(encoding="utf-8") if request else sys.stdin.read()
        data = load_json(text, where)
    except OSError as exc:
        _fail(f"{where}: {exc.strerror}")
    except ParseLimit as exc:
        _fail(str(exc))
    try:
        book = load(rulebook)
        req = request_from_dict(data)
        decision = decide(req, book)
    except RulebookError as exc:
        _fail(str(exc))
    except FieldError as exc:
        _fail(f"{where}: {exc}")
    if record:
        from arrears.service.staff.evidence_log import record_decision

        with _errors():
            record_decision(_app(), data, req, decision)
    sys.stdout.write(json.dumps(decision_to_dict(decision, locale), ensure_ascii=False) + "\n")


@app.command()
def lint(
    file: Annotated[
        Path | None, typer.Option(help="a text file; standard input if omitted")
    ] = None,
    third_party: Annotated[
        bool, typer.Option("--third-party", help="also refuse words that reveal a debt")
    ] = False,
    explain: Annotated[
        bool,
        typer.Option(
            "--explain", help="say where and why, in zh-CN and en, after the JSON (on stderr)"
        ),
    ] = False,
) -> None:
    """Screen a script, template, note or transcript for prohibited conduct (threats, third
    parties, exposure, impersonation, false consequences, insults, new borrowing, harassment;
    zh and en). Prints JSON; exit 4 if anything is found."""
    from arrears.compliance.conduct.screen import check
    from arrears.compliance.lint import load as lexicon

    text = file.read_text(encoding="utf-8") if file else sys.stdin.read()
    decision = check(text)
    hits: list[dict[str, object]] = [
        {"term": f.words.strip(), **f.as_dict()} for f in decision.findings
    ]
    if third_party:
        hits += [
            {"category": "debt_disclosure", "term": h.term, "source": "phrase"}
            for h in lexicon().reveals_debt(text)
        ]
    result = {"clean": not hits, "risk": round(decision.risk, 4), "hits": hits}
    sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
    if explain:
        _explain(text, decision.risk, hits)
    if hits:
        raise typer.Exit(4)


def _explain(text: str, risk: float, hits: list[dict[str, object]]) -> None:
    """Each finding: the line and column, the words marked, the reason in zh-CN and en."""
    if not hits:
        err.print(f"clean: nothing to refuse (screen risk {risk:.2f}) / 未发现违规内容")
        return
    for k, h in enumerate(hits, 1):
        start = int(str(h.get("start", 0)))
        line = text.count("\n", 0, start) + 1
        col = start - (text.rfind("\n", 0, start) + 1) + 1
        err.print(f"{k}. {h['category']} at line {line}, column {col} ({h['source']})")
        err.print(f"   {h.get('reason_zh', '')}", markup=False)
        err.print(f"   {h.get('reason_en', h['term'])}", markup=False, soft_wrap=True)


audit_app = typer.Typer(help="The evidence log: verify the hash chain, purge past retention.")
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def audit_verify() -> None:
    """Check every entry of the evidence log; name the first changed, missing or moved one."""
    from arrears.service.staff.evidence_log import verify_log

    with _errors():
        result = verify_log(_app())
    if result.ok:
        out.print(f"audit log intact: {result.entries:,} entries verified")
        return
    _fail(
        f"audit log broken at entry {result.first_bad_seq}: {result.problem} "
        f"({result.entries:,} entries verified before it)",
        code=3,
    )


@audit_app.command("purge")
def audit_purge(
    before: Annotated[str, typer.Option("--before", help="remove entries dated before this day")],
) -> None:
    """Remove entries before a date that are past their rulebook's retention (cn 2 y, us 3 y)."""
    from arrears.service.staff.evidence_log import purge_log

    day = _as_of(before)
    with _errors():
        n = purge_log(_app(), day)
    out.print(f"purged {n:,} entries past retention dated before {day}; the chain stays verifiable")
