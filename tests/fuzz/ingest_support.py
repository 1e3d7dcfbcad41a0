"""The ingest fuzz tests' store, valid rows and file writers, and the loader's contract.

A store is built once: migrated, then loaded with ``arrears generate --loans 20 --seed 1`` and
the README's two borrowers. Each input is tried on a fresh copy of it (the SQLite file is copied
back before every input), so an input that is accepted cannot change what the next one meets,
and a failing input replays exactly.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from arrears.bootstrap import App
from arrears.generate.portfolio import Options as GenOptions
from arrears.generate.portfolio import generate
from arrears.store.db import upgrade
from arrears.store.ingest.entities import ENTITIES
from arrears.store.ingest.loader import IngestRejected, ingest
from arrears.store.ingest.readers import FileError
from tests.conftest import make_app
from tests.fuzz.helpers import Tally, tracebacks
from tests.support.files import two_borrower_files

DAY = date(2026, 11, 23)
NOW = datetime(2026, 11, 23, 2, tzinfo=UTC)
ENTITY_NAMES = [e.name for e in ENTITIES]
COLUMNS = {e.name: [c.name for c in e.columns] for e in ENTITIES}
#: every name the loader recognises (a ``-part`` may follow the entity)
EXTENSIONS = ["csv", "csv.gz", "parquet", "jsonl", "ndjson", "jsonl.gz"]

Row = dict[str, str]
Snapshot = dict[str, tuple[int, str]]


def clock() -> datetime:
    return NOW


@dataclass
class IngestStore:
    """A migrated, loaded store, put back to its first state before every input."""

    app: App
    db: Path
    template: Path
    cases: Path
    baseline: Snapshot
    samples: dict[str, list[Row]]
    columns: dict[str, list[str]]
    case: int = 0

    def reset(self) -> None:
        self.app.engine.dispose()
        for suffix in ("-wal", "-shm", ""):
            Path(f"{self.db}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(self.template, self.db)

    def folder(self) -> Path:
        """A new, empty folder for one input's files (the last one's is removed)."""
        shutil.rmtree(self.cases / str(self.case), ignore_errors=True)
        self.case += 1
        d = self.cases / str(self.case)
        d.mkdir(parents=True)
        return d

    def snapshot(self) -> Snapshot:
        return snapshot(self.app)


def snapshot(app: App) -> Snapshot:
    """Every table of the store: its row count and a digest of its rows."""
    out: Snapshot = {}
    with app.engine.connect() as conn:
        names = conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
        ).scalars()
        for name in list(names):
            rows = conn.exec_driver_sql(f'SELECT * FROM "{name}"').all()
            digest = hashlib.sha256("\n".join(sorted(repr(tuple(r)) for r in rows)).encode())
            out[name] = (len(rows), digest.hexdigest())
    return out


def build_store(root: Path) -> IngestStore:
    gen = root / "gen"
    generate(gen, GenOptions(loans=20, seed=1, as_of=DAY))
    readme = two_borrower_files(root / "readme")
    template = root / "template.db"
    first = make_app(f"sqlite:///{template}")
    upgrade(first.engine)
    ingest(first.engine, first.cipher, [gen], clock=clock)
    ingest(first.engine, first.cipher, [readme], clock=clock)
    with first.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    first.engine.dispose()
    db = root / "work" / "x.db"
    db.parent.mkdir()
    shutil.copyfile(template, db)
    app = make_app(f"sqlite:///{db}")
    samples = _samples(gen)
    columns = {
        e: [c for c in COLUMNS[e] if any(c in r for r in rows) or c in _header(gen, e)]
        for e, rows in samples.items()
    }
    # a missing value is an empty cell in CSV; in JSON lines and Parquet it is left out (null)
    present = {
        e: [{k: v for k, v in r.items() if v != ""} for r in rows] for e, rows in samples.items()
    }
    store = IngestStore(app, db, template, root / "cases", snapshot(app), present, columns)
    return store


def _header(gen: Path, entity: str) -> list[str]:
    path = gen / f"{entity}.csv"
    if not path.exists():
        return []
    with path.open(encoding="utf-8", newline="") as fh:
        return next(csv.reader(fh), [])


def _samples(gen: Path) -> dict[str, list[Row]]:
    """A few valid rows of every entity (all of them already in the store)."""
    out: dict[str, list[Row]] = {}
    for name in ENTITY_NAMES:
        path = gen / f"{name}.csv"
        if path.exists():
            with path.open(encoding="utf-8", newline="") as fh:
                out[name] = [dict(r) for _, r in zip(range(6), csv.DictReader(fh), strict=False)]
    loans = [(r["loan_id"], r["borrower_id"]) for r in out["loans"]]
    made = {  # what the generator may not write for 20 loans: rows of every kind
        "contacts": [
            {
                "attempt_id": f"AT{k}",
                "borrower_id": b,
                "loan_id": loan,
                "channel": ch,
                "at": "2026-11-20T10:15:00+08:00",
                "direction": "outbound",
                "role": "debtor",
                "destination": "13812345678",
                "result": res,
            }
            for k, ((loan, b), ch, res) in enumerate(
                zip(
                    loans,
                    ["call", "sms", "email", "robocall"],
                    ["connected", "delivered", "bounced", "no_answer"],
                    strict=False,
                )
            )
        ],
        "promises": [
            {
                "promise_id": f"PR{k}",
                "loan_id": loan,
                "amount": "10000",
                "due_on": "2026-11-28",
                "made_at": "2026-11-21T10:44:46+00:00",
                "status": st,
                "settled_on": "" if st == "pending" else "2026-11-22",
            }
            for k, ((loan, _), st) in enumerate(
                zip(loans, ["pending", "kept", "partly_kept", "broken"], strict=False)
            )
        ],
        "holds": [
            {
                "hold_id": f"HD{k}",
                "borrower_id": b,
                "loan_id": loan if k % 2 else "",
                "kind": kind,
                "starts_at": "2026-11-13T08:41:16+00:00",
                "ends_at": "2026-12-13T08:41:16+00:00" if k % 2 else "",
            }
            for k, ((loan, b), kind) in enumerate(
                zip(loans, ["dispute", "hardship", "complaint", "cease_request"], strict=False)
            )
        ],
        "arrangements": [
            {
                "arrangement_id": f"AR{k}",
                "loan_id": loan,
                "kind": kind,
                "status": st,
                "starts_on": "2026-11-01",
                "ends_on": "2026-12-31" if k % 2 else "",
            }
            for k, ((loan, _), kind, st) in enumerate(
                zip(
                    loans,
                    ["plan", "extension", "settlement", "waiver"],
                    ["active", "proposed", "completed", "breached"],
                    strict=False,
                )
            )
        ],
    }
    for name, rows in made.items():
        out[name] = out.get(name) or rows
    for name in ENTITY_NAMES:
        assert out.get(name), f"no valid sample rows for {name}"
    return out


# ------------------------------------------------------------------------------------------
# writers: rows of text (or typed JSON values) as the bytes of each format


def csv_text(columns: Sequence[str], rows: Sequence[dict[str, Any]], *, crlf: bool = False) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n" if crlf else "\n")
    w.writerow(columns)
    for r in rows:
        w.writerow(["" if r.get(c) is None else str(r.get(c)) for c in columns])
    return buf.getvalue()


def jsonl_text(rows: Sequence[dict[str, Any]], *, ascii_only: bool = True) -> str:
    return "".join(json.dumps(r, ensure_ascii=ascii_only) + "\n" for r in rows)


def parquet_bytes(columns: Sequence[str], rows: Sequence[dict[str, Any]], typed: bool) -> bytes:
    """A Parquet file of ``rows``: every column text, or (``typed``) as pyarrow infers each."""
    arrays = {}
    for c in columns:
        values = [r.get(c) for r in rows]
        if typed:
            try:
                arrays[c] = pa.array([_typed(v) for v in values])
                continue
            except (pa.ArrowException, ValueError, TypeError, OverflowError):
                pass
        arrays[c] = pa.array([None if v is None else _text(v) for v in values], pa.string())
    buf = io.BytesIO()
    pq.write_table(pa.table(arrays) if arrays else pa.table({}), buf)
    return buf.getvalue()


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _typed(value: Any) -> Any:
    """A CSV cell as the typed value a lender's Parquet would hold."""
    if not isinstance(value, str):
        return value
    if value.lstrip("-").isdigit() and value.isascii() and len(value) < 19:
        return int(value)
    if value in ("true", "false"):
        return value == "true"
    try:
        return date.fromisoformat(value) if len(value) == 10 else value
    except ValueError:
        return value


def file_bytes(
    name: str, columns: Sequence[str], rows: Sequence[dict[str, Any]], typed: bool = False
) -> bytes:
    """``rows`` written in the format ``name`` says (gzip too)."""
    if name.endswith(".parquet"):
        return parquet_bytes(columns, rows, typed)
    if ".csv" in name:
        data = csv_text(columns, rows).encode()
    else:
        data = jsonl_text(rows).encode()
    return gzip.compress(data, mtime=0) if name.endswith(".gz") else data


# ------------------------------------------------------------------------------------------
# the contract


def run_ingest(
    store: IngestStore,
    folder: Path,
    tally: Tally,
    rows: dict[str, int] | None = None,
    refuse: bool = False,
    chunk_rows: int = 50_000,
) -> str:
    """Ingest ``folder`` on a fresh store and hold the loader to its contract: it succeeds, or
    refuses with IngestRejected (errors naming file, row and column) or FileError (naming the
    file), and a refusal writes nothing. Any other exception propagates: it is a failure; so is
    a traceback printed on the way (an exception a callback could not raise).
    ``rows``: the data rows each file holds, when known (error rows must be among them);
    ``refuse``: the input must not be accepted; ``chunk_rows``: the loader's chunk size."""
    names = {p.name for p in folder.iterdir()}
    store.reset()
    outcome, refusal = "crash", None
    started = time.perf_counter()
    with tracebacks() as printed:
        try:
            report = ingest(
                store.app.engine, store.app.cipher, [folder], clock=clock, chunk_rows=chunk_rows
            )
            outcome = "accepted"
        except (IngestRejected, FileError) as exc:
            outcome, refusal = type(exc).__name__, exc
        except Exception as exc:  # a failure; and a worse one if it left rows behind
            _unchanged(store, f"{type(exc).__name__}: {exc}"[:500])
            raise
        finally:
            tally(outcome)
            tally.timed(time.perf_counter() - started)
    assert not printed, f"a traceback was printed (outcome {outcome}): {printed[0]}"
    if isinstance(refusal, IngestRejected):
        _rejection(refusal, names, rows or {})
    elif isinstance(refusal, FileError):
        _file_error(refusal, names)
    else:
        assert not refuse, f"accepted what must be refused: {report}"
        return outcome
    _unchanged(store, f"{outcome} {refusal}"[:500])
    return outcome


def _file_error(exc: FileError, names: set[str]) -> None:
    assert exc.path.name in names, f"FileError names {exc.path.name!r}, not a file of {names}"
    assert str(exc).startswith(exc.path.name), f"FileError message names no file: {exc}"
    assert exc.row is None or exc.row >= 1, f"FileError row {exc.row}: rows count from 1"


def _rejection(exc: IngestRejected, names: set[str], rows: dict[str, int]) -> None:
    assert exc.errors, "IngestRejected without errors"
    assert exc.total >= len(exc.errors)
    for e in exc.errors:
        assert e.file in names, f"error names file {e.file!r}, not one of {sorted(names)}: {e}"
        assert str(e).startswith(e.file), f"error message does not name its file: {e}"
        assert e.reason, f"error without a reason: {e!r}"
        if e.row is None:  # about the whole file: a column (unknown, or missing)
            assert e.column is not None, f"file error names no column: {e!r}"
            continue
        assert e.column, f"row error names no column: {e!r}"
        assert e.row >= 1, f"row {e.row}: rows count from 1: {e!r}"
        if e.file in rows:
            assert e.row <= rows[e.file], f"row {e.row} but {e.file} has {rows[e.file]}: {e!r}"


def _unchanged(store: IngestStore, what: str) -> None:
    after, before = store.snapshot(), store.baseline
    changed = {k: (before.get(k), v) for k, v in after.items() if before.get(k) != v}
    changed.update({k: (v, None) for k, v in before.items() if k not in after})
    assert not changed, f"a refused batch ({what}) changed tables {sorted(changed)}"
