"""The cycle's input: the store read once, as Arrow tables, through ADBC (columnar all the way
from SQLite or PostgreSQL), or the same tables from a folder of Parquet files (the data-lake mode,
see docs/DATA_FORMATS.md). Nothing here decides anything; :mod:`arrears.cycle.run` does.

Every table has a fixed schema (:data:`SCHEMAS`); rows of ``instalments`` and ``payments`` carry
``loan_idx``, the row of their loan in ``loans`` (sorted by loan_id), which is what the compiled
delinquency replay reads.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy import Engine

from arrears.domain.codec import POLICY_FIELDS
from arrears.domain.ledger import LedgerEvent

#: the kinds the snapshot's "arrangements" rows carry besides arrangements in force: a waiver
#: (never loaded: it changes amounts, not the plan) and a placement with an agency
WAIVER = "waiver"
PLACEMENT = "placement"

TS = pa.timestamp("us", tz="UTC")
S, I64, I32, D, F, B = pa.string(), pa.int64(), pa.int32(), pa.date32(), pa.float64(), pa.bool_()

SCHEMAS: dict[str, pa.Schema] = {
    "loans": pa.schema(
        [
            ("loan_id", S),
            ("portfolio_id", S),
            ("borrower_id", S),
            ("currency", S),
            ("principal", I64),
            ("annual_rate", S),
            ("method", S),
            ("term_months", I64),
            ("first_due_date", D),
            ("score", F),
            *[(f, I64 if f == "grace_days" else S) for f in POLICY_FIELDS],
            ("product", S),
            ("rulebook", S),
        ]
    ),
    "instalments": pa.schema(
        [
            ("loan_idx", I64),
            ("seq", I64),
            ("due_date", D),
            ("principal", I64),
            ("interest", I64),
            ("fee", I64),
        ]
    ),
    "payments": pa.schema([("loan_idx", I64), ("paid_on", D), ("amount", I64)]),
    "borrowers": pa.schema(
        [
            ("borrower_id", S),
            ("locale", S),
            ("timezone", S),
            ("consents", S),
            ("contact_window", S),
            ("preferred_channel", S),
        ]
    ),
    "points": pa.schema([("borrower_id", S), ("kind", S), ("opt_outs", S)]),
    "contacts": pa.schema(
        [
            ("borrower_id", S),
            ("loan_id", S),
            ("channel", S),
            ("at", TS),
            ("direction", S),
            ("role", S),
            ("result", S),
            ("disposition", S),
            ("reason", S),
        ]
    ),
    "promises": pa.schema([("loan_id", S), ("status", S), ("settled_on", D)]),
    "holds": pa.schema(
        [("borrower_id", S), ("loan_id", S), ("kind", S), ("starts_at", TS), ("ends_at", TS)]
    ),
    "arrangements": pa.schema([("loan_id", S), ("kind", S)]),
    "stages": pa.schema([("loan_id", S), ("stage", S), ("since", D)]),
}
#: how far back history matters (broken promises, contact counts, us-regf's seven days)
HISTORY_DAYS = 90


@dataclass
class Snapshot:
    as_of: date
    loans: pa.Table
    instalments: pa.Table
    payments: pa.Table
    borrowers: pa.Table
    points: pa.Table
    contacts: pa.Table
    promises: pa.Table
    holds: pa.Table
    arrangements: pa.Table
    stages: pa.Table
    #: tables left in their Parquet files, for the engine to read itself (the data-lake mode;
    #: the attribute of the same name is then empty)
    files: dict[str, Path] = field(default_factory=dict)
    #: reads a range of loans' instalments and payments from where they are kept, when they are
    #: not in memory (the data-lake mode)
    reader: Callable[[int, int], tuple[pa.Table, pa.Table]] | None = None
    _loan_idx: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    #: ledger events besides payments (waivers, arrangements, penalty pauses), by loan; few
    #: loans have any, and those are replayed by the scalar domain (the kernel knows payments)
    events: dict[str, tuple[LedgerEvent, ...]] = field(default_factory=dict)

    @property
    def tables(self) -> dict[str, pa.Table]:
        return {n: getattr(self, n) for n in SCHEMAS}

    def ledger(self, lo: int, hi: int) -> tuple[pa.Table, pa.Table]:
        """The instalments and payments of loans lo..hi-1, with loan_idx counted from lo."""
        if self.reader is not None:
            return self.reader(lo, hi)
        return self._rows_of("instalments", lo, hi), self._rows_of("payments", lo, hi)

    def _rows_of(self, name: str, lo: int, hi: int) -> pa.Table:
        """Rows of loans lo..hi-1 of a table grouped by loan_idx, loan_idx counted from lo."""
        table: pa.Table = getattr(self, name)
        if name not in self._loan_idx:  # computed once (a race only computes it twice)
            self._loan_idx[name] = table["loan_idx"].to_numpy()
        first, last = np.searchsorted(self._loan_idx[name], [lo, hi], side="left")
        part = table.slice(int(first), int(last - first))
        shifted = pc.subtract(part["loan_idx"], pa.scalar(lo, pa.int64()))
        return part.set_column(part.schema.get_field_index("loan_idx"), "loan_idx", shifted)

    def write_parquet(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for name, table in self.tables.items():
            pq.write_table(table, folder / f"{name}.parquet")


#: columns a lake's file may lack (added later; read as nulls)
OPTIONAL: dict[str, frozenset[str]] = {
    "borrowers": frozenset({"preferred_channel"}),
    "contacts": frozenset({"disposition", "reason"}),
}


class SnapshotError(ValueError):
    """Input the cycle cannot read: names the file or table and the column."""


def conform(name: str, table: pa.Table, where: str, *, dictionaries: bool = False) -> pa.Table:
    """``table`` with exactly the columns and types of :data:`SCHEMAS` [name]; with
    ``dictionaries``, a dictionary-encoded column of the right value type stays encoded."""
    schema = SCHEMAS[name]
    cols = []
    fields = []
    for f in schema:
        if f.name not in table.column_names:
            if f.name not in OPTIONAL.get(name, ()):
                raise SnapshotError(f"{where}: column {f.name!r} is missing")
            cols.append(pa.nulls(table.num_rows, f.type))
            fields.append(f)
            continue
        col = table[f.name]
        if dictionaries and pa.types.is_dictionary(col.type) and col.type.value_type == f.type:
            cols.append(col)
            fields.append(pa.field(f.name, col.type))
            continue
        fields.append(f)
        try:
            cols.append(col if col.type == f.type else col.cast(f.type))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            k = _first_bad(col, f.type)
            at = "" if k is None else f"row {k + 1}"
            if k is not None and "loan_idx" in table.column_names:
                at += f" (loan_idx {table['loan_idx'][k].as_py()})"
            value = "" if k is None else f", found {col[k].as_py()!r}"
            raise SnapshotError(
                f"{where}: {at + ': ' if at else ''}column {f.name!r}: expected {f.type}{value}"
                f" ({exc})"
            ) from exc
    return pa.Table.from_arrays(cols, schema=pa.schema(fields))


def _first_bad(col: pa.ChunkedArray, kind: pa.DataType) -> int | None:
    """The first row of ``col`` that does not cast to ``kind`` (halving: a few casts)."""
    lo, hi = 0, len(col)  # the first bad row is in lo..hi-1

    def ok(a: int, b: int) -> bool:
        try:
            col.slice(a, b - a).cast(kind)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return False
        return True

    if ok(lo, hi):
        return None
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(lo, mid):
            lo = mid
        else:
            hi = mid
    return lo


#: the tables the engine reads straight from the lake's files (the history; the rest is needed
#: in Python for the delinquency, the send windows and the stages)
ENGINE_FILES = ("borrowers", "points", "contacts", "promises", "holds", "arrangements")


def _check_file(name: str, path: Path) -> None:
    """The Parquet file at ``path`` has every column of ``name`` in a castable type."""
    try:
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise SnapshotError(f"{path}: not a readable Parquet file: {exc}") from exc
    for f in SCHEMAS[name]:
        if f.name not in schema.names:
            if f.name in OPTIONAL.get(name, ()):
                continue
            raise SnapshotError(f"{path}: column {f.name!r} is missing")
        have = schema.field(f.name).type
        if have != f.type and not _castable(have, f.type):
            raise SnapshotError(f"{path}: column {f.name!r}: expected {f.type}, found {have}")


def _castable(src: pa.DataType, dst: pa.DataType) -> bool:
    try:
        pa.array([], src).cast(dst)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return True


#: columns of few distinct values, kept dictionary-encoded when read from the lake
LOW_CARDINALITY = {
    "loans": (
        "portfolio_id",
        "currency",
        "annual_rate",
        "method",
        *(f for f in POLICY_FIELDS if f != "grace_days"),
        "product",
        "rulebook",
    ),
}


def _names(path: Path) -> list[str]:
    return list(pq.read_schema(path).names)


def decoded(table: pa.Table) -> pa.Table:
    """``table`` with every dictionary-encoded column decoded to its values."""
    for i, f in enumerate(table.schema):
        if pa.types.is_dictionary(f.type):
            table = table.set_column(i, f.name, table.column(i).cast(f.type.value_type))
    return table


def open_lake(folder: Path, as_of: date) -> Snapshot:
    """A snapshot over ``folder``'s Parquet files that stays mostly on disk: loans and stages
    are read; instalments and payments are read a range of loans at a time (each
    file sorted by loan_idx, so only the row groups of the range are touched); the history
    tables and the borrowers are left for the engine to scan (:data:`ENGINE_FILES`)."""
    import pyarrow.dataset as ds

    tables: dict[str, pa.Table] = {}
    files: dict[str, Path] = {}
    datasets: dict[str, Any] = {}
    for name, schema in SCHEMAS.items():
        path = folder / f"{name}.parquet"
        tables[name] = schema.empty_table()
        if not path.exists():
            if name in ("loans", "instalments"):
                raise SnapshotError(f"{path}: not found (the cycle needs loans and instalments)")
            continue
        if name in ENGINE_FILES:
            _check_file(name, path)
            files[name] = path
        elif name in ("instalments", "payments"):
            _check_file(name, path)
            datasets[name] = ds.dataset(path, format="parquet")
        else:
            # repeated text (portfolio, policy, product ...) is read dictionary-encoded:
            # decoded only for the loans that need it
            coded = LOW_CARDINALITY.get(name, ())
            raw = pq.read_table(path, read_dictionary=[c for c in coded if c in _names(path)])
            tables[name] = conform(name, raw, str(path), dictionaries=True)

    def read(lo: int, hi: int) -> tuple[pa.Table, pa.Table]:
        out = []
        for name in ("instalments", "payments"):
            if name not in datasets:
                out.append(SCHEMAS[name].empty_table())
                continue
            key = ds.field("loan_idx")
            raw = datasets[name].to_table(
                columns=SCHEMAS[name].names, filter=(key >= lo) & (key < hi)
            )
            part = conform(name, raw, f"{folder / name}.parquet, loans {lo}..{hi - 1}")
            shifted = pc.subtract(part["loan_idx"], pa.scalar(lo, pa.int64()))
            part = part.set_column(0, "loan_idx", shifted)
            values = shifted.to_numpy()
            if values.size > 1 and bool((values[1:] < values[:-1]).any()):  # not sorted
                part = part.take(pc.sort_indices(part, sort_keys=[("loan_idx", "ascending")]))
            out.append(part)
        return out[0], out[1]

    return Snapshot(as_of, **tables, files=files, reader=read)


def from_parquet(folder: Path, as_of: date) -> Snapshot:
    """A snapshot from ``folder/<table>.parquet`` files (missing activity tables are empty)."""
    tables: dict[str, pa.Table] = {}
    for name, schema in SCHEMAS.items():
        path = folder / f"{name}.parquet"
        if not path.exists():
            if name in ("loans", "instalments"):
                raise SnapshotError(f"{path}: not found (the cycle needs loans and instalments)")
            tables[name] = schema.empty_table()
            continue
        tables[name] = conform(name, pq.read_table(path), str(path))
    return Snapshot(as_of, **tables)


# ------------------------------------------------------------------------------------------
# from the store

_COLS: dict[str, list[tuple[str, str]]] = {
    "loans": [
        ("l.loan_id", "loan_id"),
        ("l.portfolio_id", "portfolio_id"),
        ("l.borrower_id", "borrower_id"),
        ("l.currency", "currency"),
        ("l.principal", "principal"),
        ("l.annual_rate", "annual_rate"),
        ("l.method", "method"),
        ("l.term_months", "term_months"),
        ("l.first_due_date", "first_due_date"),
        ("l.score", "score"),
        *[(f"COALESCE(l.{f}, p.{f})", f) for f in POLICY_FIELDS],
        ("p.product", "product"),
        ("p.rulebook", "rulebook"),
    ],
}


def _quoted(ids: Sequence[str]) -> str:
    return ", ".join("'" + i.replace("'", "''") + "'" for i in ids)


def _queries(as_of: date, loans: Sequence[str] | None = None) -> dict[str, str]:
    """The snapshot's queries: of the whole store, or of ``loans`` and their borrowers only
    (the dispatcher's second look at a batch of actions)."""
    since = (as_of - timedelta(days=HISTORY_DAYS)).isoformat()
    loan_cols = ", ".join(f"{expr} AS {name}" for expr, name in _COLS["loans"])
    by_loan = by_borrower = where_loan = ""
    if loans is not None:
        ids = _quoted(sorted(set(loans))) or "''"
        of_loans = f"SELECT borrower_id FROM loan WHERE loan_id IN ({ids})"
        where_loan = f" WHERE l.loan_id IN ({ids})"
        by_loan = f" AND loan_id IN ({ids})"
        by_borrower = f" AND borrower_id IN ({of_loans})"
    return {
        "loans": f"SELECT {loan_cols} FROM loan l JOIN portfolio p "
        f"ON p.portfolio_id = l.portfolio_id{where_loan} ORDER BY l.loan_id",
        # in the table's own order (a sequential scan); grouped by loan in Arrow afterwards
        "instalments": "SELECT loan_id, seq, due_date, principal, interest, fee FROM instalment"
        + (f" WHERE 1 = 1{by_loan}" if by_loan else ""),
        "payments": "SELECT loan_id, paid_on, amount FROM payment "
        f"WHERE status = 'posted'{by_loan}",
        "borrowers": "SELECT borrower_id, locale, timezone, consents, contact_window, "
        "preferred_channel FROM borrower" + (f" WHERE 1 = 1{by_borrower}" if by_borrower else ""),
        "points": "SELECT borrower_id, kind, opt_outs FROM contact_point "
        f"WHERE owner_role = 'borrower' AND is_valid{by_borrower}",
        "contacts": "SELECT borrower_id, loan_id, channel, at, direction, role, result, "
        f"disposition, reason FROM contact_attempt WHERE at >= '{since}'{by_borrower}",
        "promises": "SELECT loan_id, status, settled_on FROM promise "
        f"WHERE (status = 'pending' OR settled_on >= '{since}'){by_loan}",
        "holds": "SELECT borrower_id, loan_id, kind, starts_at, ends_at FROM hold "
        f"WHERE (ends_at IS NULL OR ends_at >= '{since}'){by_borrower}",
        # arrangements in force, and (as kind 'placement') the loans placed with an agency
        "arrangements": "SELECT loan_id, kind FROM arrangement WHERE status = 'active' "
        f"AND kind <> 'waiver'{by_loan} "
        "UNION ALL SELECT loan_id, 'placement' AS kind FROM placement WHERE status = 'placed'"
        f"{by_loan}",
        "stages": "SELECT loan_id, stage, since FROM account_stage"
        + (f" WHERE 1 = 1{by_loan}" if by_loan else ""),
    }


NULLABLE: dict[str, frozenset[str]] = {
    "loans": frozenset({"term_months", "first_due_date", "score", *POLICY_FIELDS}),
    "borrowers": frozenset({"consents", "contact_window", "preferred_channel"}),
    "points": frozenset({"opt_outs"}),
    "contacts": frozenset({"loan_id", "result", "disposition", "reason"}),
    "promises": frozenset({"settled_on"}),
    "holds": frozenset({"loan_id", "ends_at"}),
}


def _sqlite_safe(sql: str, name: str) -> str:
    """SQLite has no column types, so ADBC infers each from the first values it sees: a column
    that starts NULL would break it. Nullable columns are read as text ('' for NULL) and
    :func:`_restore` casts them back."""
    nullable = NULLABLE.get(name, frozenset())
    head, _, rest = sql.partition(" FROM ")
    out = []
    for part in _split(head.removeprefix("SELECT ")):
        expr, _, alias = part.rpartition(" AS ")
        if not expr:
            expr, alias = part, part.split(".")[-1]
        if alias in nullable:
            out.append(f"COALESCE(CAST({expr} AS TEXT), '') AS {alias}")
        else:
            out.append(f"{expr} AS {alias}")
    return f"SELECT {', '.join(out)} FROM {rest}"


def _split(select: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in select:
        if ch == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        cur += ch
    parts.append(cur.strip())
    return parts


def _restore(table: pa.Table, name: str) -> pa.Table:
    if table.num_rows == 0:  # no values: ADBC could not tell the types
        return SCHEMAS[name].empty_table()
    nullable = NULLABLE.get(name, frozenset())
    cols = {}
    for f in SCHEMAS[name]:
        if f.name not in table.column_names:
            continue
        col = table[f.name]
        is_text = pa.types.is_string(col.type) or pa.types.is_large_string(col.type)
        if is_text and f.name in nullable:  # '' stood for NULL (see _sqlite_safe)
            col = pc.if_else(pc.equal(col, ""), pa.scalar(None, col.type), col)
        if f.type == TS and is_text:
            col = col.cast(pa.timestamp("us")).cast(TS)  # SQLite keeps UTC, naive
        elif f.type == B and is_text:
            col = pc.is_in(col, pa.array(["1", "true", "t"]))
        elif f.type != col.type:
            col = col.cast(f.type)
        cols[f.name] = col
    return pa.table(cols)


def _read(engine: Engine, sql: str) -> pa.Table:
    """One query through ADBC's PostgreSQL driver (a client library: no shared files)."""
    import adbc_driver_postgresql.dbapi as pg_adbc

    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with pg_adbc.connect(url) as conn, conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetch_arrow_table()


def _read_sqlite(engine: Engine, queries: dict[str, str], threads: int) -> dict[str, pa.Table]:
    """Every query at once, through ADBC's SQLite in a child process (never in this one:
    :mod:`arrears.cycle.sqlite_reader` says why); the tables come back as memory-mapped Arrow
    IPC files."""
    import subprocess
    import sys
    import tempfile

    with tempfile.TemporaryDirectory(prefix="arrears-snapshot-") as folder:
        spec = {
            "database": engine.url.database,
            "queries": queries,
            "threads": threads,
            "out": folder,
        }
        proc = subprocess.run(
            [sys.executable, "-m", "arrears.cycle.sqlite_reader"],
            input=json.dumps(spec),
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            tail = " ".join(proc.stderr.strip().splitlines()[-1:])
            raise SnapshotError(f"reading the store {engine.url.database}: {tail}")
        out = {}
        for name in queries:
            with pa.memory_map(str(Path(folder) / f"{name}.arrow")) as source:
                out[name] = pa.ipc.open_file(source).read_all()
        return out


def _read_small(conn: Any, sql: str, schema: pa.Schema) -> pa.Table:
    """A small query read through SQLAlchemy into Arrow (types as ADBC would infer them; a
    column of nothing but NULLs takes the schema's type)."""
    cur = conn.exec_driver_sql(sql)
    names = list(cur.keys())
    rows = cur.all()
    if not rows:
        return pa.table({n: pa.array([], pa.string()) for n in names}).slice(0, 0)
    cols = {}
    for k, n in enumerate(names):
        col = pa.array([r[k] for r in rows])
        if pa.types.is_null(col.type) and n in schema.names:
            col = col.cast(schema.field(n).type)
        cols[n] = col
    return pa.table(cols)


#: a SQLite book of at most this many loans is read in this process, through the store's own
#: driver: starting the reading process would take longer than the read
SMALL_BOOK = 20_000


def _loan_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.exec_driver_sql("SELECT count(*) FROM loan").scalar() or 0)


def from_store(
    engine: Engine, as_of: date, threads: int = 2, loans: Sequence[str] | None = None
) -> Snapshot:
    """Read the store once, a few tables at a time (each on its own connection; the drivers
    release the GIL while they read). Loans are sorted by id; instalments and payments get
    loan_idx and are grouped by it. ``loans``: only those loans and their borrowers."""
    sqlite = engine.url.get_backend_name() == "sqlite"
    queries = _queries(as_of, loans)
    # the big tables first, so the threads finish together
    order = sorted(
        queries,
        key=lambda n: (
            ("instalments", "payments", "contacts").index(n)
            if n in ("instalments", "payments", "contacts")
            else 3
        ),
    )
    small = loans is not None or (sqlite and _loan_count(engine) <= SMALL_BOOK)
    if small:  # a few accounts, or a small book: through the store's own driver and pool
        with engine.connect() as conn:
            raw = {
                name: _read_small(
                    conn,
                    _sqlite_safe(queries[name], name) if sqlite else queries[name],
                    SCHEMAS[name],
                )
                for name in order
            }
    elif sqlite:
        raw = _read_sqlite(engine, {n: _sqlite_safe(queries[n], n) for n in order}, threads)
    else:
        with ThreadPoolExecutor(max(1, threads)) as pool:
            futures = {name: pool.submit(_read, engine, queries[name]) for name in order}
            raw = {name: f.result() for name, f in futures.items()}
    from arrears.store.repository import events_of  # the store's layer, read like the rest

    with engine.connect() as conn:
        events = events_of(conn, None if loans is None else sorted(set(loans)))
    loans = raw["loans"]
    tables: dict[str, pa.Table] = {}
    for name in list(raw):
        table = raw.pop(name)  # each raw table freed as soon as it is converted
        if name in ("instalments", "payments") and table.num_rows:
            table = _with_loan_idx(table, loans)
        table = _restore(table, name)
        tables[name] = conform(name, table, f"store table for {name}")
    return Snapshot(as_of, **tables, events={k: tuple(v) for k, v in events.items()})


def _with_loan_idx(table: pa.Table, loans: pa.Table) -> pa.Table:
    """``table`` with each row's loan as a row number of ``loans``, grouped by it (stable, so
    rows keep their order within a loan)."""
    idx = pc.index_in(table["loan_id"], value_set=loans["loan_id"].combine_chunks())
    out = table.append_column("loan_idx", idx.cast(pa.int64())).drop_columns(["loan_id"])
    values = out["loan_idx"].to_numpy()
    if values.size > 1 and bool((values[1:] < values[:-1]).any()):
        out = out.take(pc.sort_indices(out, sort_keys=[("loan_idx", "ascending")]))
    return out
