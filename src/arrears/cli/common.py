"""What the command modules share: the Typer application they add their commands to, the
consoles, opening the store, dates, progress bars and the mapping of service errors to a
message and exit status."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from arrears.service.errors import (
    Conflict,
    Forbidden,
    Invalid,
    LimitExceeded,
    NotFound,
    ServiceError,
    StoreNotReady,
)

if TYPE_CHECKING:
    from arrears.bootstrap import App

app = typer.Typer(
    help="arrears: debt collections for consumer instalment lenders.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
out = Console()
if not out.is_terminal:  # piped or in CI: rich's 80 columns would fold the tables
    out = Console(width=120)
err = Console(stderr=True)


def _app() -> App:
    from arrears.bootstrap import bootstrap  # deferred: the store stack is slow to import

    a = bootstrap()
    if a.settings.model_file is not None:  # the learned model, for strategies that score
        from arrears.learn.models import ModelError, attach

        try:
            attach(a)
        except ModelError as exc:
            _fail(f"ARREARS_MODEL_FILE: {exc}")
    return a


def _as_of(value: str | None, a: App | None = None) -> date:
    if value is None:
        return (a or _app()).today()
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"expected a date YYYY-MM-DD, got {value!r}") from exc


#: how a refusal is introduced, by its kind (every refusal exits with status 1)
KINDS: tuple[tuple[type[ServiceError], str], ...] = (
    (Invalid, ""),
    (NotFound, "not found: "),
    (Conflict, "conflict: "),
    (Forbidden, "not allowed: "),
    (LimitExceeded, "over the policy's limit: "),
    (StoreNotReady, "store not ready: "),
    (ServiceError, ""),
)


def _fail(message: str, code: int = 1) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


@contextmanager
def _errors() -> Iterator[None]:
    from arrears.store.ingest.readers import FileError

    try:
        yield
    except ServiceError as exc:
        _fail(f"{next(t for k, t in KINDS if isinstance(exc, k))}{exc}")
    except FileError as exc:
        _fail(str(exc))


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=False,
        disable=not err.is_terminal and not os.environ.get("ARREARS_PROGRESS"),
    )
