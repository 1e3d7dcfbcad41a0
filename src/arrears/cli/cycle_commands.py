"""``arrears cycle`` and ``arrears plan``: the daily decision and how a candidate strategy would
change it. Registered on the main app by :mod:`arrears.cli`."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from arrears.cli.common import _app, _as_of, _errors, _fail, _progress, app, err, out
from arrears.domain.delinquency import DEFAULT_STAGES

if TYPE_CHECKING:
    import pyarrow as pa

    from arrears.service.daily.writeback import DayResult

plan_app = typer.Typer(help="The day's plan: show it, or diff a candidate strategy against it.")
app.add_typer(plan_app, name="plan")

STATUSES = ("planned", "cut", "blocked", "suppressed")


@app.command()
def cycle(
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="business date, YYYY-MM-DD; today if omitted")
    ] = None,
    engine: Annotated[str | None, typer.Option(help="duckdb (embedded, default) or spark")] = None,
    strategy: Annotated[
        str | None,
        typer.Option(
            help="a shipped strategy (default, learned, champion-challenger: the last two "
            "score their choices with the model ARREARS_MODEL_FILE names) or a YAML file; "
            "settings if omitted"
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="show what would change; write nothing")
    ] = False,
    catch_up: Annotated[
        bool, typer.Option(help="run missed business dates first, in order")
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of tables")] = False,
    source: Annotated[
        Path | None,
        typer.Option(help="data-lake mode: read the snapshot from this folder of Parquet files"),
    ] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="data-lake mode: write plan.parquet here")
    ] = None,
) -> None:
    """Decide today's plan for every account: delinquency, stage, strategy, compliance gate,
    queue capacity; write it back (idempotent per business date)."""
    from arrears.service.daily.cycle import run_cycle, run_lake, strategy_from

    a = _app()
    day = _as_of(as_of, a)
    if (source is None) != (out_dir is None):
        _fail("--source and --out go together (the data-lake mode)")
    with _errors(), _progress() as bar:
        chosen = strategy_from(a, strategy, store=source is None)
        if chosen.uses_models and a.scorer is None:
            err.print(
                f"[yellow]note:[/] strategy {chosen.name} makes choices, and no model is loaded "
                "(ARREARS_MODEL_FILE is not set): each choice takes its first allowed option, "
                "most often doing nothing"
            )
        task = bar.add_task("cycle", total=None)
        if source is not None and out_dir is not None:
            results = [
                run_lake(
                    source,
                    out_dir,
                    day,
                    strategy=chosen,
                    engine=engine or a.settings.cycle_engine,
                    scorer=a.scorer,
                )
            ]
        else:
            results = run_cycle(
                a,
                day,
                strategy=chosen,
                engine=engine,
                dry_run=dry_run,
                catch_up=catch_up,
                progress=lambda text: bar.update(task, description=text),
            )
        bar.update(task, description="cycle done", total=1, completed=1)
    if as_json:
        sys.stdout.write(json.dumps([_json(r) for r in results], indent=2, default=str) + "\n")
        return
    for r in results:
        _show(r, chosen.name, dry_run, out_dir)


def _json(r: DayResult) -> dict[str, Any]:
    return {
        "business_date": r.business_date.isoformat(),
        "run_id": r.run_id,
        "accounts": r.accounts,
        "stage_changes": r.stage_changes,
        "replaced": r.replaced,
        "kept": r.kept,
        "counts": r.counts,
    }


def _count(plan: pa.Table, keys: list[str]) -> dict[tuple[Any, ...], int]:
    """Rows per distinct combination of ``keys`` (grouped in Arrow: a plan has millions)."""
    if plan.num_rows == 0:
        return {}
    grouped = plan.select(keys).group_by(keys).aggregate([([], "count_all")])
    return {tuple(row[k] for k in keys): row["count_all"] for row in grouped.to_pylist()}


def plan_table(plan: pa.Table, title: str) -> Table:
    """Actions by stage and channel, one column per status."""
    table = Table(title=title, title_justify="left")
    for col in ("stage", "channel", *STATUSES, "total"):
        table.add_column(col, justify="left" if col in ("stage", "channel") else "right")
    counts = Counter(_count(plan, ["stage", "channel", "status"]))
    keys = sorted({(s, c) for s, c, _ in counts}, key=_stage_order)
    totals = Counter[str]()
    for s, c in keys:
        row = [counts[(s, c, st)] for st in STATUSES]
        totals.update(dict(zip(STATUSES, row, strict=True)))
        table.add_row(s, c, *(f"{n:,}" if n else "" for n in row), f"{sum(row):,}")
    table.add_section()
    table.add_row("all", "", *(f"{totals[st]:,}" for st in STATUSES), f"{sum(totals.values()):,}")
    return table


#: stages in the order of the one stage table (the domain's, which default.yaml repeats and a
#: test holds equal)
STAGE_ORDER = tuple(b.name for b in DEFAULT_STAGES.bands)


def _stage_order(key: tuple[str, str]) -> tuple[int, str, str]:
    s, c = key
    return (STAGE_ORDER.index(s) if s in STAGE_ORDER else len(STAGE_ORDER), s, c)


def rule_table(plan: pa.Table, title: str) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("rule")
    table.add_column("status")
    table.add_column("actions", justify="right")
    counts = {k: n for k, n in _count(plan, ["rule", "status"]).items() if k[0]}
    for (rule, status), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        table.add_row(rule, status, f"{n:,}")
    return table


def _show(r: DayResult, strategy: str, dry_run: bool, out_dir: Path | None = None) -> None:
    verb = "would be planned" if dry_run else "planned"
    out.print(
        plan_table(
            r.plan, f"plan for {r.business_date} (strategy {strategy}), by stage and channel"
        )
    )
    if r.plan.num_rows:
        out.print(rule_table(r.plan, "what blocked, suppressed or cut actions"))
    moves = {}
    for key, n in r.counts["stage_changes"].items():
        source, _, target = key.partition(">")
        moves[f"{'-' if source == 'None' else source} -> {target}"] = n
    if moves:
        changes = Table(title="stage changes", title_justify="left")
        changes.add_column("change")
        changes.add_column("accounts", justify="right")
        for k, n in sorted(moves.items(), key=lambda kv: -kv[1]):
            changes.add_row(k, f"{n:,}")
        out.print(changes)
    if r.quarantined.num_rows:
        out.print(quarantine_table(r.quarantined.to_pylist(), r.quarantined.num_rows))
    tail = (
        f"; {'would replace' if dry_run else 'replaced'} {r.replaced:,} unsent actions; "
        f"kept {r.kept:,} already sent"
        if r.replaced or r.kept
        else ""
    )
    vs = r.counts.get("vs_stored", {})
    change = (
        f" Against the stored plan of {r.business_date}: {vs.get('new', 0):,} new actions, "
        f"{vs.get('dropped', 0):,} dropped, {vs.get('status_changed', 0):,} with another status."
        if out_dir is None
        else ""
    )
    if out_dir is not None:
        run = f"written to {out_dir}"
    else:
        run = f"run #{r.run_id}" if r.run_id is not None else "dry run: nothing written"
    out.print(
        f"{r.accounts:,} accounts; {r.plan.num_rows:,} actions {verb} for "
        f"{r.business_date}; {r.stage_changes:,} stage changes{tail}.{change} {run}."
    )


def quarantine_table(rows: list[dict[str, Any]], total: int, shown: int = 20) -> Table:
    """The accounts a run could not compute, with the reason (the first ``shown``)."""
    more = f" (the first {shown} shown)" if total > shown else ""
    table = Table(
        title=f"[red]{total:,} accounts quarantined: not computed, no action, stage kept[/]{more}",
        title_justify="left",
    )
    table.add_column("loan")
    table.add_column("reason")
    for row in rows[:shown]:
        table.add_row(row["loan_id"], row["reason"])
    return table


@plan_app.command("diff")
def plan_diff(
    candidate: Annotated[Path, typer.Argument(help="the candidate strategy (YAML)")],
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="business date, YYYY-MM-DD; today if omitted")
    ] = None,
    engine: Annotated[str | None, typer.Option(help="duckdb or spark")] = None,
    current: Annotated[
        str | None, typer.Option(help="the strategy to compare with; settings if omitted")
    ] = None,
) -> None:
    """How the candidate's plan differs from the current strategy's on today's portfolio."""
    from arrears.service.daily.plans import diff_plans

    a = _app()
    day = _as_of(as_of, a)
    with _errors():
        d = diff_plans(a, day, candidate=str(candidate), current=current, engine=engine)
    table = Table(title=f"plan for {day}: {d.current} -> {d.candidate}", title_justify="left")
    for col in ("stage", "channel", "status", d.current, d.candidate, "change"):
        table.add_column(
            col, justify="right" if col in (d.current, d.candidate, "change") else "left"
        )
    for row in d.rows:
        delta = row["candidate"] - row["current"]
        style = "green" if delta > 0 else ("red" if delta < 0 else "")
        table.add_row(
            row["stage"],
            row["channel"],
            row["status"],
            f"{row['current']:,}",
            f"{row['candidate']:,}",
            f"[{style}]{delta:+,}[/]" if style else "0",
        )
    out.print(table)
    out.print(
        f"{d.added:,} actions only in the candidate, {d.removed:,} only in the current plan, "
        f"{d.changed:,} in both with another status or priority."
    )


@plan_app.command("show")
def plan_show(
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="business date, YYYY-MM-DD; today if omitted")
    ] = None,
) -> None:
    """The stored plan of a business date, by stage, channel and status."""
    from arrears.service.daily.runs import stored_plan

    a = _app()
    day = _as_of(as_of, a)
    with _errors():
        plan = stored_plan(a, day)
    if plan.num_rows == 0:
        _fail(f"no plan stored for {day}: run `arrears cycle --as-of {day}`")
    out.print(plan_table(plan, f"stored plan for {day}"))
    out.print(rule_table(plan, "what blocked, suppressed or cut actions"))


@app.command("runs")
def runs(
    verify: Annotated[bool, typer.Option("--verify", help="recompute the run chain")] = False,
) -> None:
    """The cycle's run history (with --verify: check every run's hash link). Exit 3 if broken."""
    from arrears.service.daily.runs import run_history, verify_runs

    a = _app()
    with _errors():
        if verify:
            n, problems = verify_runs(a)
            for p in problems:
                out.print(f"[red]{p}[/]")
            if problems:
                raise typer.Exit(3)
            out.print(f"{n:,} runs verified: every record is intact and linked to the one before.")
            return
        rows = run_history(a)
    table = Table(title="cycle runs", title_justify="left")
    for col in (
        "run",
        "business date",
        "engine",
        "strategy",
        "accounts",
        "actions",
        "quarantined",
        "hash",
    ):
        table.add_column(col)
    sick: list[tuple[int, dict[str, Any]]] = []
    for r in rows:
        counts = json.loads(r["counts"])
        n = int(counts.get("quarantined", 0))
        table.add_row(
            str(r["run_id"]),
            str(r["business_date"]),
            r["engine"],
            r["strategy"],
            f"{counts['accounts']:,}",
            f"{counts['actions']:,}",
            f"[red]{n:,}[/]" if n else "0",
            r["hash"][:12],
        )
        if n:
            sick.append((r["run_id"], counts))
    out.print(table)
    if sick:  # the latest run that quarantined accounts, named
        run_id, counts = sick[0]
        out.print(f"run #{run_id}:")
        out.print(quarantine_table(counts["quarantined_accounts"], counts["quarantined"]))


@app.command()
def simulate(
    days: Annotated[int, typer.Option(help="days of business before today to simulate")] = 3,
    seed: Annotated[int, typer.Option(help="random seed")] = 7,
) -> None:
    """Simulate the days before today on the store (demos): each day's cycle, dispatch at
    10:00, agents working their call queues, promises and payments; the clock is moved only
    for the simulation."""
    from datetime import timedelta

    from arrears.generate.simulate import simulate as run

    a = _app()
    today = a.today()
    when = [today - timedelta(days=k) for k in range(days, 0, -1)]
    with _errors(), _progress() as bar:
        task = bar.add_task("simulate", total=len(when))

        def tick(what: str) -> None:
            bar.update(task, advance=0, description=what)

        done = run(a, when, seed=seed, progress=tick)
        bar.update(task, completed=len(when))
    out.print(
        f"{done.days} day(s) simulated: {done.sent:,} messages sent, {done.calls:,} calls "
        f"worked, {done.promises:,} promises taken, {done.payments:,} payments posted"
    )
