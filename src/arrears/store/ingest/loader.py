"""Load a batch of lender files into the store: validate every row, upsert by the lender's ids,
all or nothing.

* Every rejected row is reported with its file, row, column and reason; when any row is
  rejected, nothing of the batch is written (one transaction, rolled back).
* Upsert by the lender's keys: loading the same files twice leaves the store unchanged (personal
  data is encrypted deterministically, see :mod:`arrears.store.crypto`).
* Files stream in chunks, so memory is bounded by the chunk size.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, Engine, select

from arrears import exports
from arrears.store import tables as t
from arrears.store.crypto import Cipher
from arrears.store.db import driver_values, upsert_sql
from arrears.store.ingest.dupes import KeyLedger
from arrears.store.ingest.entities import BY_NAME, ENTITIES, NO_CHECK, NO_STORE, Entity, parse_row
from arrears.store.ingest.readers import FileError, Source, fmt_of, header, read_chunks

SHOWN_ERRORS = 1000  # kept in memory for display; all of them go to --errors


@dataclass(frozen=True)
class RowError:
    file: str
    row: int | None
    column: str | None
    reason: str
    value: str | None = None

    def __str__(self) -> str:
        where = self.file + (f", row {self.row}" if self.row is not None else "")
        where += f", column {self.column}" if self.column else ""
        return f"{where}: {self.reason}"


class IngestRejected(Exception):
    """The batch was refused; nothing was written."""

    def __init__(self, errors: list[RowError], total: int) -> None:
        super().__init__(f"{total} row error(s); nothing was written")
        self.errors = errors
        self.total = total


@dataclass
class IngestReport:
    counts: dict[str, int] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)


ProgressFn = Callable[[Source, int], None]


def discover(paths: Iterable[Path]) -> list[Source]:
    """The files to load, in dependency order; a folder contributes every file it holds."""
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files.extend(sorted(x for x in p.iterdir() if x.is_file() and fmt_of(x)))
        elif p.is_file():
            files.append(p)
        else:
            raise FileError(p, "no such file or folder")
    sources: list[Source] = []
    for path in files:
        fmt = fmt_of(path)
        stem = path.name.split(".")[0]
        entity = next((e.name for e in ENTITIES if stem.startswith(e.name)), None)
        if fmt is None or entity is None:
            names = ", ".join(e.name for e in ENTITIES)
            raise FileError(
                path,
                f"unrecognised file: name it <entity>[-part].csv|parquet|jsonl "
                f"with entity one of {names}",
            )
        sources.append(Source(path, entity, fmt))
    if not sources:
        raise FileError(Path(", ".join(str(p) for p in paths)), "no ingestion files found")
    order = {e.name: k for k, e in enumerate(ENTITIES)}
    return sorted(sources, key=lambda s: (order[s.entity], s.path.name))


def existing_keys(conn: Connection, column: Any, values: set[str]) -> set[str]:
    found: set[str] = set()
    items = sorted(values)
    for k in range(0, len(items), 500):
        found.update(conn.execute(select(column).where(column.in_(items[k : k + 500]))).scalars())
    return found


class _Errors:
    """Counts errors, keeps the first ones, streams all to an optional CSV."""

    def __init__(self, out: TextIO | None) -> None:
        self.total = 0
        self.shown: list[RowError] = []
        self._writer = exports.writer(out) if out else None  # the file's values, made safe
        if self._writer:
            self._writer.writerow(["file", "row", "column", "reason", "value"])

    def add(self, err: RowError) -> None:
        self.total += 1
        if len(self.shown) < SHOWN_ERRORS:
            self.shown.append(err)
        if self._writer:
            self._writer.writerow(
                [err.file, err.row or "", err.column or "", err.reason, err.value or ""]
            )


@contextmanager
def _maybe_open(path: Path | None) -> Iterator[TextIO | None]:
    if path is None:
        yield None
        return
    with path.open("w", newline="", encoding="utf-8") as fh:
        yield fh


class _Batch:
    def __init__(self, conn: Connection, cipher: Cipher, errors: _Errors, today: date) -> None:
        self.today = today
        self.conn = conn
        self.cipher = cipher
        self.errors = errors
        self.counts: dict[str, int] = {}
        self.sqlite = conn.dialect.name == "sqlite"
        self.keys = KeyLedger()
        self.files: list[str] = []  # by index: the files the key ledger names

    def file_index(self, src: Source) -> int:
        if src.path.name not in self.files:
            self.files.append(src.path.name)
        return self.files.index(src.path.name)

    def refuse_repeats(self, entity: Entity) -> None:
        """A key given twice in the batch refuses it, naming both rows."""
        for r in self.keys.repeats(entity.name):
            (f0, r0), (f1, r1) = r.first, r.again
            keys = ", ".join(entity.keys)
            self.errors.add(
                RowError(
                    self.files[f1],
                    r1,
                    entity.keys[0],
                    f"{keys} {r.key!r} again: the same as {self.files[f0]} row {r0}; a batch may "
                    "give each key once",
                    r.key,
                )
            )

    def check_header(self, src: Source, entity: Entity) -> bool:
        names = header(src)
        ok = True
        for name in sorted({n for n in names if names.count(n) > 1}):
            self.errors.add(RowError(src.path.name, None, name, "column given more than once"))
            ok = False
        for name in names:
            if name not in entity.column_names:
                self.errors.add(RowError(src.path.name, None, name, "unknown column"))
                ok = False
        if src.fmt != "jsonl":
            for col in entity.columns:
                if col.required and col.name not in names:
                    self.errors.add(
                        RowError(src.path.name, None, col.name, "required column missing")
                    )
                    ok = False
        return ok

    def load_chunk(self, src: Source, entity: Entity, first_row: int, table: pa.Table) -> None:
        """Check a chunk column by column; report refused rows; upsert the rest."""
        table = _plain(src, first_row, table)
        n = table.num_rows
        typed: dict[str, pa.Array] = {}
        bad = pa.array(np.zeros(n, dtype=bool))
        for col in entity.columns:
            raw = (
                table[col.name].combine_chunks()
                if col.name in table.column_names
                else pa.nulls(n, pa.string())
            )
            values, refused = col.check(raw)
            if col.required:
                refused = pc.or_(refused, pc.is_null(values))
            if col.default is not None:
                values = _fill(values, col.default)
            typed[col.name] = values
            bad = pc.or_(bad, refused)
        extra = [k for k in table.column_names if k not in entity.column_names]
        if extra:  # JSON lines may carry unknown keys row by row
            for k in extra:
                bad = pc.or_(bad, pc.is_valid(table[k].combine_chunks()))
        good = pc.invert(bad)
        self._explain(src, entity, first_row, table, np.flatnonzero(bad.to_numpy(False)))
        rows = pa.table(typed).filter(good)
        where = np.flatnonzero(good.to_numpy(False))
        rows, kept = self._check_rows(src, entity, first_row, rows, where)
        self.keys.add(
            entity.name,
            [rows[k] for k in entity.keys],
            self.file_index(src),
            first_row + where[kept],
        )
        # an optional column the file does not have keeps what the store holds (a borrower's
        # preferences set in the portal survive the lender's next borrowers file)
        absent = {
            c.name
            for c in entity.columns
            if c.name not in table.column_names and c.default is None and not c.required
        }
        self._write(entity, rows, absent)
        self.counts[entity.name] = self.counts.get(entity.name, 0) + rows.num_rows

    def _explain(
        self, src: Source, entity: Entity, first_row: int, table: pa.Table, idx: Any
    ) -> None:
        """Re-parse refused rows with the scalar parsers for the exact reasons."""
        for i in idx:
            raw = {k: table[k][int(i)].as_py() for k in table.column_names}
            _, problems = parse_row(entity, raw)
            problems += [
                (k or "(a key with no name)", "unknown field")
                for k, v in raw.items()
                if k not in entity.column_names and v is not None
            ]
            for column, reason in problems or [("", "refused")]:
                value = raw.get(column)
                self.errors.add(
                    RowError(
                        src.path.name,
                        first_row + int(i),
                        column or None,
                        reason,
                        None if value is None else str(value)[:200],
                    )
                )

    def _check_rows(
        self, src: Source, entity: Entity, first_row: int, rows: pa.Table, where: Any
    ) -> tuple[pa.Table, np.ndarray]:
        """Cross-field rules and references on the rows that passed the column checks: the rows
        kept, and which of ``rows`` they are."""
        keep = np.ones(rows.num_rows, dtype=bool)
        if entity.check is not NO_CHECK:
            candidates = np.arange(rows.num_rows)
            if entity.check_when is not None:
                mask = pc.fill_null(entity.check_when(rows), True)
                candidates = np.flatnonzero(mask.to_numpy(zero_copy_only=False))
            subset = rows.take(pa.array(candidates, pa.int64())) if len(candidates) else None
            rows_to_check = subset.to_pylist() if subset is not None else []
            for k, row in zip(candidates, rows_to_check, strict=True):
                for column, reason in entity.check(row):
                    keep[k] = False
                    self.errors.add(
                        RowError(
                            src.path.name,
                            first_row + int(where[k]),
                            column,
                            reason,
                            _text(row.get(column)),
                        )
                    )
        for ref in entity.refs:
            values = rows[ref.column]
            wanted = {v for v in pc.unique(values).to_pylist() if v is not None}
            found = existing_keys(self.conn, ref.table.c[ref.key], wanted)
            if len(found) == len(wanted):
                continue
            present = pc.is_in(values, value_set=pa.array(sorted(found), pa.string()))
            for missing in np.flatnonzero(~present.combine_chunks().to_numpy(False)):
                k = int(missing)
                if keep[k]:
                    keep[k] = False
                    value = values[k].as_py()
                    self.errors.add(
                        RowError(
                            src.path.name,
                            first_row + int(where[k]),
                            ref.column,
                            f"{ref.table.name} {value!r} is neither in this batch nor in the store",
                            str(value),
                        )
                    )
        if entity.name == "payments":
            self._payment_dates(src, first_row, rows, where, keep)
        kept = np.flatnonzero(keep)
        return (rows if keep.all() else rows.filter(pa.array(keep))), kept

    def _payment_dates(
        self, src: Source, first_row: int, rows: pa.Table, where: Any, keep: np.ndarray
    ) -> None:
        """A payment is dated on or after its loan's origination, and not after tomorrow (the
        loans of this batch are already written in its transaction)."""
        loans = {v for v in pc.unique(rows["loan_id"]).to_pylist() if v is not None}
        born: dict[str, date] = {}
        items = sorted(loans)
        for k in range(0, len(items), 500):
            born.update(
                self.conn.execute(
                    select(t.loan.c.loan_id, t.loan.c.originated_on).where(
                        t.loan.c.loan_id.in_(items[k : k + 500])
                    )
                ).all()
            )
        latest = self.today + timedelta(days=1)
        pairs = zip(rows["loan_id"].to_pylist(), rows["paid_on"].to_pylist(), strict=True)
        for k, (loan, paid) in enumerate(pairs):
            if not keep[k] or paid is None:
                continue
            start = born.get(loan)
            reason = None
            if start is not None and paid < start:
                reason = f"is before the loan's origination on {start.isoformat()}"
            elif paid > latest:
                reason = f"is in the future (after {latest.isoformat()})"
            if reason:
                keep[k] = False
                self.errors.add(
                    RowError(
                        src.path.name,
                        first_row + int(where[k]),
                        "paid_on",
                        reason,
                        paid.isoformat(),
                    )
                )

    def _write(
        self, entity: Entity, rows: pa.Table, absent: set[str] | frozenset[str] = frozenset()
    ) -> None:
        if rows.num_rows == 0:
            return
        if entity.store is not NO_STORE:
            stored = [entity.store(r, self.cipher) for r in rows.to_pylist()]
            rows = pa.Table.from_pylist(stored)
        # the file's columns only: what other parts of arrears add to a row (the dispatcher's
        # record of a contact) is kept when a file brings the row again
        names = [
            c.name
            for c in entity.table.columns
            if c.name in rows.column_names and c.name not in absent
        ]
        cols = [self._db_values(rows[name]) for name in names]
        self.conn.exec_driver_sql(
            upsert_sql(self.conn, entity.table, entity.keys, names), list(zip(*cols, strict=True))
        )

    def _db_values(self, col: pa.ChunkedArray) -> list[Any]:
        return driver_values(col, self.sqlite)


#: the days a date or instant column may hold (1900-01-01 .. 2199-12-31, as the checks say)
_FIRST_DAY, _LAST_DAY = -25567, 84005


def _plain(src: Source, first_row: int, table: pa.Table) -> pa.Table:
    """A chunk's columns as the checks take them: dictionaries decoded (what pandas writes for a
    category), unsigned 64-bit numbers as text (an amount past 2^63 is refused by name, not by
    an overflow); a nested, binary or out-of-range column refuses the file, named."""
    cols = {}
    for name in table.column_names:
        col = table[name].combine_chunks()
        kind = col.type
        if pa.types.is_dictionary(kind):
            col = col.dictionary_decode()
            kind = col.type
        if pa.types.is_nested(kind):
            raise FileError(
                src.path, f"column {name!r} holds lists or records ({kind}); give one value a cell"
            )
        if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
            try:
                col = col.cast(pa.string())
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                raise FileError(
                    src.path, f"column {name!r} holds bytes that are not UTF-8 text"
                ) from None
        elif pa.types.is_unsigned_integer(kind):
            col = col.cast(pa.string())
        elif pa.types.is_date(kind) or pa.types.is_timestamp(kind):
            days = _days(col)
            far = pc.or_(pc.less(days, _FIRST_DAY), pc.greater(days, _LAST_DAY))
            if pc.any(pc.fill_null(far, False)).as_py():
                k = int(np.flatnonzero(pc.fill_null(far, False).to_numpy(zero_copy_only=False))[0])
                raise FileError(
                    src.path, f"column {name!r}: a date outside 1900-2199", row=first_row + k
                )
        cols[name] = col
    return pa.table(cols) if cols else table


def _days(col: pa.Array) -> pa.Array:
    """A date or instant column as whole days since 1970 (no conversion that could overflow)."""
    kind = col.type
    if pa.types.is_date32(kind):
        return col.cast(pa.int32()).cast(pa.int64())
    per_day = (
        86_400_000
        if pa.types.is_date64(kind)
        else 86_400 * {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}[kind.unit]
    )
    return pc.divide(col.cast(pa.int64()), per_day)


def _fill(values: pa.Array, default: Any) -> pa.Array:
    if pa.types.is_null(values.type):
        return pa.array([default] * len(values))
    return pc.fill_null(values, pa.scalar(default, values.type))


def _text(value: Any) -> str | None:
    return None if value is None else str(value)[:200]


def ingest(
    engine: Engine,
    cipher: Cipher,
    paths: Iterable[Path],
    *,
    clock: Callable[[], datetime],
    chunk_rows: int = 50_000,
    progress: ProgressFn | None = None,
    errors_csv: Path | None = None,
) -> IngestReport:
    """Load ``paths`` as one batch. Raises :class:`IngestRejected` (nothing written) on any
    row error, :class:`FileError` for a file that cannot be read at all."""
    sources = discover(paths)
    started = clock()
    with _maybe_open(errors_csv) as out, engine.connect() as conn:
        errors = _Errors(out)
        batch = _Batch(conn, cipher, errors, started.date())
        with conn.begin() as trans:
            try:
                for k, src in enumerate(sources):
                    entity = BY_NAME[src.entity]
                    if batch.check_header(src, entity):
                        step = (lambda n, s=src: progress(s, n)) if progress else None
                        for first_row, table in read_chunks(src, chunk_rows, step):
                            batch.load_chunk(src, entity, first_row, table)
                    if k + 1 == len(sources) or sources[k + 1].entity != src.entity:
                        batch.refuse_repeats(entity)  # the entity's files are all read
            finally:
                batch.keys.close()
            if errors.total:
                trans.rollback()
                raise IngestRejected(errors.shown, errors.total)
            conn.execute(
                t.ingest_batch.insert().values(
                    started_at=started,
                    finished_at=clock(),
                    sources=json.dumps([s.path.name for s in sources]),
                    counts=json.dumps(batch.counts, sort_keys=True),
                )
            )
    return IngestReport(counts=batch.counts, sources=[s.path.name for s in sources])
