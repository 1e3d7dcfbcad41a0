"""Ingest lender files into the store as one all-or-nothing batch."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from arrears.bootstrap import App
from arrears.service.store import require_current
from arrears.store.ingest.loader import IngestReport, ProgressFn, discover, ingest
from arrears.store.ingest.readers import Source


def plan(paths: Iterable[Path]) -> list[Source]:
    """The files a batch would load, in load order (raises FileError for a bad name)."""
    return discover(paths)


def ingest_files(
    app: App,
    paths: Iterable[Path],
    *,
    errors_csv: Path | None = None,
    progress: ProgressFn | None = None,
) -> IngestReport:
    require_current(app)
    return ingest(
        app.engine,
        app.cipher,
        paths,
        clock=app.clock,
        chunk_rows=app.settings.ingest_chunk_rows,
        progress=progress,
        errors_csv=errors_csv,
    )
