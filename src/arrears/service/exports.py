"""A table as a file people open in a spreadsheet: CSV (UTF-8 with a byte-order mark, so
Excel reads Chinese) or Excel (openpyxl). A text cell that a spreadsheet would run as a formula
(it starts with =, +, -, @, a tab or a carriage return) is neutralised with a leading
apostrophe, so a name or a note typed as ``=HYPERLINK(...)`` stays text. Numbers stay numbers."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

#: what a spreadsheet reads as the start of a formula
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
Cell = str | int | float | date | datetime | None


def neutral(value: Cell) -> Cell:
    """``value`` as a spreadsheet must show it: a formula-like text behind an apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def to_csv(header: Sequence[str], rows: Sequence[Sequence[Cell]]) -> bytes:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow([neutral(h) for h in header])
    for row in rows:
        w.writerow(["" if v is None else neutral(v) for v in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(title: str, header: Sequence[str], rows: Sequence[Sequence[Cell]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet: Any = book.active
    sheet.title = title[:31] or "Sheet1"
    sheet.append([neutral(h) for h in header])
    for row in rows:
        sheet.append([_xlsx_cell(v) for v in row])
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # never a formula, whatever the text
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _xlsx_cell(value: Cell) -> Cell:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return neutral(value.isoformat())  # Excel has no timezones: the instant as text
    return neutral(value)


#: the formats a table downloads as, and their media types
FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def export(
    fmt: str, title: str, header: Sequence[str], rows: Sequence[Sequence[Cell]]
) -> tuple[bytes, str]:
    """The table in ``fmt`` (csv or xlsx) and its media type."""
    if fmt == "xlsx":
        return to_xlsx(title, header, rows), FORMATS["xlsx"]
    if fmt == "csv":
        return to_csv(header, rows), FORMATS["csv"]
    from arrears.service.errors import Invalid

    raise Invalid(f"format: expected csv or xlsx, got {fmt!r}", field="format")
