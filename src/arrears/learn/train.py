"""Learning a policy from simulated history (``arrears learn train``): the learned strategy's
choices, explored (half of each day's decisions drawn at random among the compliant options,
with the probability logged), lived through the real cycle in training worlds; the decision
logs with their outcomes; the models trained from them (:mod:`arrears.learn.models`).

Runs go to worker processes (each world on its own store); the logs come back as Arrow."""

from __future__ import annotations

import multiprocessing
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from arrears.learn.models import Model, load, train
from arrears.learn.oracle import Oracle
from arrears.learn.simulator import Lived, live, make_book
from arrears.learn.tune import held_out, tune
from arrears.learn.worlds import World, training_worlds
from arrears.strategy.model import MAX_EXPLORE, Strategy, loads
from arrears.strategy.model import load as load_strategy

#: the book's day before the simulated days; the generated history runs up to it
BOOK_DAY = date(2026, 10, 31)
START = BOOK_DAY + timedelta(days=1)
#: the books: training and judging run on books from different seeds
TRAINING_BOOK_SEED = 101
JUDGING_BOOK_SEED = 202


def explorer(strategy: Strategy, share: float = MAX_EXPLORE) -> Strategy:
    """``strategy`` exploring ``share`` of the decisions of every stage that makes choices."""
    stages = sorted({s.stage for s in strategy.steps if s.group is not None})
    line = "explore: {" + ", ".join(f"{s}: {share}" for s in stages) + "}"
    text = strategy.source.replace("\ntreatments:\n", f"\n{line}\ntreatments:\n", 1)
    return loads(text, f"{strategy.name}-explorer.yaml")


@dataclass(frozen=True)
class Job:
    """One run, for a worker process: what it needs, all of it picklable."""

    world: World
    strategy_text: str
    strategy_file: str
    book: str
    days: int
    model: str | None = None
    keep_log: bool = False
    policy: str | None = None
    #: score with the hidden types' true effects (a diagnosis: :mod:`arrears.learn.oracle`)
    oracle: bool = False
    #: record each choice's options' truth (:mod:`arrears.learn.coverage`)
    truth: bool = False


def run_job(job: Job) -> Lived:
    strategy = loads(job.strategy_text, job.strategy_file)
    scorer = None if job.model is None else load(Path(job.model))
    return live(
        job.world,
        strategy,
        Path(job.book),
        START,
        job.days,
        scorer=scorer,
        policy=job.policy,
        keep_log=job.keep_log,
        scorer_of=Oracle if job.oracle else None,
        truth=job.truth,
    )


def run_all(
    jobs: list[Job], workers: int, done: Callable[[Lived], None] | None = None
) -> list[Lived]:
    """Every job, ``workers`` at a time, in the order given."""
    if workers <= 1:
        out = []
        for job in jobs:
            out.append(run_job(job))
            if done:
                done(out[-1])
        return out
    # spawned, not forked: the compiled walk's and LightGBM's thread pools do not survive a
    # fork of a process that has started them
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(run_job, job) for job in jobs]
        results = []
        for f in futures:
            results.append(f.result())
            if done:
                done(results[-1])
        return results


def book_for(folder: Path, loans: int, seed: int) -> Path:
    """The generated book the runs copy, made once per folder, size and seed."""
    mark = folder / f"book-{loans}-{seed}"
    db = mark / "book.db"
    if not db.exists():
        shutil.rmtree(mark, ignore_errors=True)
        make_book(mark, loans, seed, BOOK_DAY)
    return db


def learn(
    out: Path,
    *,
    worlds: int = 2,
    loans: int = 2000,
    days: int = 90,
    seed: int = 1,
    workers: int = 2,
    work: Path | None = None,
    done: Callable[[Lived], None] | None = None,
) -> tuple[Model, pa.Table]:
    """Simulate the exploring learned strategy in ``worlds`` training worlds, train the models
    on the logs and write them to ``out``; returns the model and the log."""
    strategy = explorer(load_strategy("learned"))
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        book = book_for(Path(tmp), loans, TRAINING_BOOK_SEED)
        jobs = [
            Job(w, strategy.source, "learned-explorer.yaml", str(book), days, keep_log=True)
            for w in training_worlds(worlds, seed)
        ]
        lived = run_all(jobs, workers, done)
    logs = [x.log for x in lived if x.log is not None and x.log.num_rows]
    log = pa.concat_tables(logs, promote_options="default")
    # the models learn from four accounts in five; the margin is chosen on the fifth
    hold = held_out(log["loan_id"])
    model = train(log.filter(pa.array(~hold)))
    model.trained_on |= {"worlds": worlds, "loans": loans, "days": days, "seed": seed}
    model.trained_on["tuning"] = tune(model, log.filter(pa.array(hold)))
    model.save(out)
    return model, log


def summary(x: Lived) -> dict[str, Any]:
    """A run's figures, for the tables and the report."""
    return {
        "world": x.world,
        "policy": x.policy,
        "accounts": x.accounts,
        "owed": x.owed,
        "recovered": x.recovered,
        "recovery": x.recovery,
        "contacts": x.contacts,
        "contacts_per_account": x.contacts_per_account,
        "complaints": x.complaints,
        "complaints_per_10k": x.complaints_per_10k,
        "stopped": x.stopped,
        "rule_breaks": x.rule_breaks,
        "cost": x.cost,
        "cost_per_yuan": x.cost_per_yuan,
        "curve": x.curve,
        "by_type": x.by_type,
        "by_channel": x.by_channel,
        "window": x.window,
        "follow": x.follow,
        "stock": x.stock,
    }
