"""``arrears learn``: train the models on simulated history, judge the learned policy against
the champion on sealed worlds (or worlds from a file), write the report, export the decision
log with its outcomes (docs/LEARNING.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from arrears.cli.common import _app, _errors, _fail, _progress, app, out

learn_app = typer.Typer(no_args_is_help=True, help="Learning: train, evaluate, report, export.")
app.add_typer(learn_app, name="learn")

MODEL = Path("var/learned-model.json")
JUDGED = Path("var/learn-evaluation.json")


@learn_app.command("train")
def train_cmd(
    model: Annotated[Path, typer.Option("--out", help="the model file to write")] = MODEL,
    worlds: Annotated[int, typer.Option(help="how many training worlds to simulate", min=1)] = 2,
    loans: Annotated[int, typer.Option(help="loans in the simulated book", min=50)] = 2000,
    days: Annotated[int, typer.Option(help="days to simulate in each world", min=1)] = 90,
    seed: Annotated[int, typer.Option(help="seed of the training worlds")] = 1,
    workers: Annotated[int, typer.Option(help="worlds simulated at once", min=1)] = 2,
) -> None:
    """Simulate the learned strategy exploring in training worlds through the real cycle,
    then train the models on the decision logs with their outcomes."""
    from arrears.learn.train import learn

    with _errors(), _progress() as bar:
        task = bar.add_task("simulating training worlds", total=worlds)
        trained, log = learn(
            model,
            worlds=worlds,
            loans=loans,
            days=days,
            seed=seed,
            workers=workers,
            done=lambda _: bar.update(task, advance=1),
        )
    counts = trained.trained_on.get("by_treatment", {})
    taken = ", ".join(f"{k} {v:,}" for k, v in counts.items())
    out.print(
        f"trained on {log.num_rows:,} decisions ({taken}); "
        f"models for {', '.join(trained.treatments)}; written to {model}"
    )
    tuning = trained.trained_on.get("tuning", {})
    if tuning.get("judged"):
        out.print(tuning_table(tuning))
        verdict = (
            "promoted: the lower bound beats doing nothing"
            if tuning["promoted"]
            else "NOT promoted: its lower bound does not beat doing nothing; judge it before use"
        )
        out.print(f"margin {tuning['margin'] / 100:,.2f} yuan chosen; {verdict}")


def tuning_table(tuning: dict[str, Any]) -> Table:
    """Each margin's value on the held-out accounts, by the doubly robust estimator."""
    table = Table(
        title=f"held-out decisions ({tuning['judged']:,}): value per decision, yuan "
        "(doubly robust, 95%)"
    )
    for col in ("margin", "value", "interval", "contacts", "ESS"):
        table.add_column(col, justify="right")
    rows = [tuning["nothing"], *tuning["table"]]
    for r in rows:
        table.add_row(
            "do nothing" if r["margin"] is None else f"{r['margin'] / 100:,.2f}",
            f"{r['value'] / 100:,.2f}",
            f"{r['low'] / 100:,.2f} to {r['high'] / 100:,.2f}",
            f"{r['contact_share']:.0%}",
            f"{r['ess']:,.0f}",
        )
    return table


def _pct(v: float) -> str:
    return f"{v:+.1%}"


@learn_app.command("evaluate")
def evaluate_cmd(
    model: Annotated[Path, typer.Option(help="the model file (arrears learn train)")] = MODEL,
    worlds_file: Annotated[
        Path | None,
        typer.Option(
            "--worlds",
            help="a YAML or JSON file of worlds to judge in instead of the sealed ones (the "
            "format: docs/LEARNING.md, Worlds)",
        ),
    ] = None,
    loans: Annotated[int, typer.Option(help="loans in the simulated book", min=50)] = 2000,
    days: Annotated[
        int,
        typer.Option(
            help="days each policy lives in each world: the accounts entering collection in "
            "the first days are each followed for 90 (120: those of the first 30)",
            min=2,
        ),
    ] = 120,
    workers: Annotated[int, typer.Option(help="runs at once", min=1)] = 2,
    save: Annotated[Path, typer.Option("--out", help="the figures as JSON")] = JUDGED,
    oracle: Annotated[
        bool,
        typer.Option(
            "--oracle",
            help="judge the learned strategy scored by the hidden types' true effects instead "
            "of the model: the ceiling of its choices (a diagnosis, not a policy)",
        ),
    ] = False,
) -> None:
    """Judge the learned policy against the champion (the default strategy): both live each
    world through the real cycle; prints the goals table."""
    from arrears.learn.evaluate import judge
    from arrears.learn.models import ModelError, load
    from arrears.learn.worlds import WorldsError, load_worlds

    worlds = None
    try:
        load(model)
        if worlds_file is not None:
            worlds = load_worlds(worlds_file)
    except (ModelError, WorldsError) as exc:
        _fail(str(exc))
    n = 2 * (len(worlds) if worlds is not None else 10)
    with _errors(), _progress() as bar:
        task = bar.add_task("policies living the worlds", total=n)
        judged = judge(
            model,
            worlds=worlds,
            loans=loans,
            days=days,
            workers=workers,
            done=lambda _: bar.update(task, advance=1),
            oracle=oracle,
        )
    save.parent.mkdir(parents=True, exist_ok=True)
    body = {"worlds": judged.worlds, "days": days, "loans": loans, "runs": judged.runs,
            "by_world": judged.by_world, "goals": judged.goals}  # fmt: skip
    save.write_text(json.dumps(body, indent=1), encoding="utf-8")
    out.print(worlds_table(judged.by_world))
    out.print(goals_table(judged.goals))
    out.print(measured_on(judged.runs))
    out.print(f"figures written to {save}")


def measured_on(runs: list[dict[str, Any]]) -> str:
    """What the goals were measured on, and the accounts already in collection beside it."""
    champ = [r for r in runs if r["policy"] == "champion"]
    if not champ:
        return ""
    window, follow = champ[0].get("window", 0), champ[0].get("follow", 0)
    said = [
        f"measured on the {sum(r['accounts'] for r in champ):,} accounts entering collection "
        f"in the first {window} days of each world (the champion's run), each over its first "
        f"{follow} days in collection."
    ]
    parts = []
    for policy in ("champion", "learned"):
        mine = [r.get("stock") or {} for r in runs if r["policy"] == policy]
        owed = sum(s.get("owed", 0) for s in mine)
        if owed:
            parts.append(f"{policy} {sum(s.get('recovered', 0) for s in mine) / owed:.1%}")
    if parts:
        accounts = sum((r.get("stock") or {}).get("accounts", 0) for r in champ)
        said.append(
            f"The {accounts:,} accounts already in collection on the first day, over the run "
            f"(not in the goals): recovered {', '.join(parts)}."
        )
    return " ".join(said)


def worlds_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="by world: the learned policy against the champion")
    for col in ("world", "champion recovery", "learned recovery", "points", "contacts",
                "complaints", "rule breaks"):  # fmt: skip
        table.add_column(col, justify="left" if col == "world" else "right")
    for w in rows:
        table.add_row(
            w["world"],
            f"{w['champion_recovery']:.1%}",
            f"{w['learned_recovery']:.1%}",
            f"{w['points']:+.2f}",
            _pct(w["contacts_change"]),
            _pct(w["complaints_change"]),
            str(w["rule_breaks"]),
        )
    return table


def goals_table(goals: list[dict[str, Any]]) -> Table:
    table = Table(title="goals, pooled over the worlds")
    for col in ("goal", "target", "measured", "met"):
        table.add_column(col)
    for g in goals:
        v = g["measured"]
        if g["met"] is None:
            continue
        if "points" in g["goal"]:
            shown = f"{v:+.2f}"
        elif g["goal"] == "rule breaks":
            shown = f"{int(v)}"
        elif "worlds" in g["goal"]:
            shown = f"{v:.0%}"
        else:
            shown = _pct(v)
        table.add_row(
            g["goal"], g["target"], shown, "[green]met[/]" if g["met"] else "[red]not met[/]"
        )
    return table


@learn_app.command("export")
def export_cmd(
    to: Annotated[Path, typer.Option("--out", help="a .parquet or .csv file")],
) -> None:
    """The decision log with its outcomes, for analysts."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from arrears.service.queries.decisions import decisions_with_outcomes

    with _errors():
        table = decisions_with_outcomes(_app())
        to.parent.mkdir(parents=True, exist_ok=True)
        if to.suffix == ".csv":
            pacsv.write_csv(table, to)
        elif to.suffix == ".parquet":
            pq.write_table(table, to)
        else:
            _fail(f"--out {to}: expected a .parquet or .csv file")
    out.print(f"{table.num_rows:,} decisions written to {to}")


@learn_app.command("report")
def report_cmd(
    figures: Annotated[Path, typer.Option("--from", help="the judge's figures")] = JUDGED,
    to: Annotated[Path, typer.Option("--out", help="the HTML page to write")] = Path(
        "var/learn-report.html"
    ),
) -> None:
    """The judge's figures as an HTML page with charts: recovery curves, contacts per account,
    complaints per 10,000 contacts, cost per yuan recovered, by borrower type."""
    from arrears.learn.report import write

    try:
        body = json.loads(figures.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        _fail(f"{figures}: {str(exc).splitlines()[0]} (run arrears learn evaluate first)")
    if not isinstance(body, dict) or not isinstance(body.get("runs"), list):
        _fail(f"{figures}: runs: expected the figures arrears learn evaluate writes")
    write(body, to)
    out.print(f"report written to {to}")


@learn_app.command("coverage")
def coverage_cmd(
    worlds: Annotated[int, typer.Option(help="how many training worlds to log", min=1)] = 4,
    loans: Annotated[int, typer.Option(help="loans in the simulated book", min=50)] = 2000,
    days: Annotated[int, typer.Option(help="days logged in each world", min=1)] = 40,
    seed: Annotated[int, typer.Option(help="seed of the worlds")] = 555,
    model: Annotated[Path | None, typer.Option(help="a model whose choices are judged too")] = None,
    workers: Annotated[int, typer.Option(help="worlds simulated at once", min=1)] = 2,
    save: Annotated[Path, typer.Option("--out", help="the figures as JSON")] = Path(
        "var/learn-coverage.json"
    ),
) -> None:
    """Hold the off-policy estimates to the simulator's truth: log the exploring learned
    strategy in training worlds, estimate several policies from each log (IPS, SNIPS, DR) and
    say how often each estimator's 95% interval held the policy's true value."""
    from arrears.learn.coverage import coverage
    from arrears.learn.models import ModelError, load
    from arrears.learn.worlds import training_worlds

    scorer = None
    if model is not None:
        try:
            scorer = load(model)
        except ModelError as exc:
            _fail(str(exc))
    with _errors(), _progress() as bar:
        task = bar.add_task("logging worlds", total=worlds)
        got = coverage(
            training_worlds(worlds, seed),
            loans=loans,
            days=days,
            workers=workers,
            model=scorer,
            done=lambda _: bar.update(task, advance=1),
        )
    save.parent.mkdir(parents=True, exist_ok=True)
    save.write_text(json.dumps(got, indent=1), encoding="utf-8")
    out.print(coverage_table(got["summary"]))
    out.print(f"figures written to {save}")


def coverage_table(summary: list[dict[str, Any]]) -> Table:
    table = Table(title="off-policy estimates held to the simulator's truth")
    for col in ("estimator", "intervals", "held the truth", "share (95% interval)",
                "mean ESS", "mean decisions"):  # fmt: skip
        table.add_column(col, justify="left" if col == "estimator" else "right")
    for s in summary:
        table.add_row(
            s["estimator"],
            str(s["intervals"]),
            str(s["covered"]),
            f"{s['share']:.0%} ({s['share_low']:.0%}-{s['share_high']:.0%})",
            f"{s['mean_ess']:,.0f}",
            f"{s['mean_n']:,.0f}",
        )
    return table
