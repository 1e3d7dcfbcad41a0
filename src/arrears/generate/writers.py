"""Writers for the ingestion format: CSV, Parquet or JSON lines, one file per entity."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import date
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.parquet as pq

ENTITY_ORDER = (
    "portfolios",
    "borrowers",
    "contact_points",
    "loans",
    "instalments",
    "payments",
    "contacts",
    "promises",
    "holds",
)

_S, _I, _D, _B = pa.string(), pa.int64(), pa.date32(), pa.bool_()
_T = pa.timestamp("us", tz="UTC")
SCHEMAS: dict[str, list[tuple[str, pa.DataType]]] = {
    "portfolios": [
        ("portfolio_id", _S),
        ("name", _S),
        ("creditor", _S),
        ("product", _S),
        ("currency", _S),
        ("rulebook", _S),
        ("strategy", _S),
        ("timezone", _S),
        ("penalty_daily_rate", _S),
        ("penalty_rate_multiplier", _S),
        ("penalty_base", _S),
        ("grace_days", _I),
        ("penalty_rate_cap_annual", _S),
        ("charges_cap_ratio", _S),
        ("allocation", _S),
    ],
    "borrowers": [
        ("borrower_id", _S),
        ("name", _S),
        ("national_id", _S),
        ("locale", _S),
        ("timezone", _S),
        ("consents", _S),
        ("contact_window", _S),
        ("preferred_channel", _S),
    ],
    "contact_points": [
        ("contact_id", _S),
        ("borrower_id", _S),
        ("kind", _S),
        ("owner_role", _S),
        ("owner_name", _S),
        ("relation", _S),
        ("value", _S),
        ("opt_outs", _S),
        ("is_valid", _B),
        ("is_primary", _B),
    ],
    "loans": [
        ("loan_id", _S),
        ("portfolio_id", _S),
        ("borrower_id", _S),
        ("currency", _S),
        ("principal", _I),
        ("annual_rate", _S),
        ("method", _S),
        ("term_months", _I),
        ("first_due_date", _D),
        ("originated_on", _D),
        ("score", _S),
    ],
    "instalments": [
        ("loan_id", _S),
        ("seq", _I),
        ("due_date", _D),
        ("principal", _I),
        ("interest", _I),
        ("fee", _I),
    ],
    "payments": [
        ("payment_id", _S),
        ("loan_id", _S),
        ("paid_on", _D),
        ("amount", _I),
        ("status", _S),
        ("reversed_on", _D),
        ("source", _S),
    ],
    "contacts": [
        ("attempt_id", _S),
        ("borrower_id", _S),
        ("loan_id", _S),
        ("channel", _S),
        ("at", _T),
        ("direction", _S),
        ("role", _S),
        ("result", _S),
    ],
    "promises": [
        ("promise_id", _S),
        ("loan_id", _S),
        ("amount", _I),
        ("due_on", _D),
        ("made_at", _T),
        ("status", _S),
        ("settled_on", _D),
    ],
    "holds": [
        ("hold_id", _S),
        ("borrower_id", _S),
        ("loan_id", _S),
        ("kind", _S),
        ("starts_at", _T),
        ("ends_at", _T),
    ],
}


class Writer(Protocol):
    def write(self, rows: list[dict[str, Any]]) -> None: ...


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


class CsvWriter:
    def __init__(self, fh: Any, columns: list[str]) -> None:
        self._w = csv.writer(fh)
        self._cols = columns
        self._w.writerow(columns)

    def write(self, rows: list[dict[str, Any]]) -> None:
        cols = self._cols
        self._w.writerows([[_text(r.get(c)) for c in cols] for r in rows])


class JsonlWriter:
    def __init__(self, fh: Any, columns: list[str]) -> None:
        self._fh = fh
        self._cols = columns

    def write(self, rows: list[dict[str, Any]]) -> None:
        for r in rows:
            obj = {c: r.get(c) for c in self._cols if r.get(c) is not None}
            self._fh.write(
                json.dumps(
                    obj,
                    ensure_ascii=False,
                    default=lambda v: v.isoformat() if isinstance(v, date) else str(v),
                )
                + "\n"
            )


class ParquetWriter:
    def __init__(self, path: Path, fields: list[tuple[str, pa.DataType]]) -> None:
        self._schema = pa.schema(fields)
        self._w = pq.ParquetWriter(str(path), self._schema)

    def write(self, rows: list[dict[str, Any]]) -> None:
        self._w.write_table(pa.Table.from_pylist(rows, schema=self._schema))

    def close(self) -> None:
        self._w.close()


@contextmanager
def open_writers(out: Path, fmt: str) -> Iterator[dict[str, Writer]]:
    if fmt not in ("csv", "parquet", "jsonl"):
        raise ValueError(f"--format must be csv, parquet or jsonl, got {fmt!r}")
    with ExitStack() as stack:
        writers: dict[str, Writer] = {}
        for name in ENTITY_ORDER:
            fields = SCHEMAS[name]
            cols = [n for n, _ in fields]
            path = out / f"{name}.{fmt}"
            if fmt == "parquet":
                pw = ParquetWriter(path, fields)
                stack.callback(pw.close)
                writers[name] = pw
            else:
                fh = stack.enter_context(path.open("w", encoding="utf-8", newline=""))
                writers[name] = CsvWriter(fh, cols) if fmt == "csv" else JsonlWriter(fh, cols)
        yield writers
