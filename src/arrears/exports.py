"""Files that leave arrears (agency placements and recalls, the print vendor's manifest, the
ingest error report, the console's tables as CSV or Excel) and are opened in a spreadsheet.

A cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a formula to
Excel, LibreOffice and Google Sheets: a borrower named ``=HYPERLINK("http://…")`` would run in
the agency's spreadsheet. Every text cell is neutralised as OWASP advises, with a leading
apostrophe, which the spreadsheet shows as text and does not keep. Numbers are written as
numbers (a negative amount stays -100)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import IO, Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> Any:
    """``value`` as a spreadsheet reads it safely: text that could start a formula gets ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def writer(out: IO[str]) -> Any:
    """A ``csv.writer`` whose every row is neutralised (:func:`cell`)."""
    return _Safe(csv.writer(out))


class _Safe:
    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def writerow(self, row: Sequence[Any]) -> Any:
        return self._inner.writerow([cell(v) for v in row])

    def writerows(self, rows: Iterable[Sequence[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def dict_writer(out: IO[str], fieldnames: Sequence[str]) -> Any:
    """A ``csv.DictWriter`` whose every value is neutralised (:func:`cell`)."""
    return _SafeDict(csv.DictWriter(out, fieldnames=list(fieldnames)))


class _SafeDict:
    def __init__(self, inner: csv.DictWriter[str]) -> None:
        self._inner = inner

    def writeheader(self) -> Any:
        return self._inner.writeheader()

    def writerow(self, row: Mapping[str, Any]) -> Any:
        return self._inner.writerow({k: cell(v) for k, v in row.items()})

    def writerows(self, rows: Iterable[Mapping[str, Any]]) -> None:
        for row in rows:
            self.writerow(row)


def to_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """A table as CSV in UTF-8 with a byte-order mark (so Excel reads Chinese), neutralised."""
    out = io.StringIO()
    w = writer(out)
    w.writerow(header)
    w.writerows([["" if v is None else v for v in row] for row in rows])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(title: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """A table as an Excel workbook (openpyxl): every text cell neutralised and stored as text,
    never as a formula; an aware instant as its ISO text (Excel has no timezones)."""
    from openpyxl import Workbook

    book = Workbook()
    sheet: Any = book.active
    sheet.title = title[:31] or "Sheet1"
    sheet.append([cell(h) for h in header])
    for row in rows:
        sheet.append(
            [cell(v.isoformat() if isinstance(v, datetime) and v.tzinfo else v) for v in row]
        )
        for c in sheet[sheet.max_row]:
            if isinstance(c.value, str):
                c.data_type = "s"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


#: the formats a table downloads as, and their media types
FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def export(
    fmt: str, title: str, header: Sequence[str], rows: Iterable[Sequence[Any]]
) -> tuple[bytes, str]:
    """The table in ``fmt`` (csv or xlsx) and its media type; ValueError for another format."""
    if fmt == "xlsx":
        return to_xlsx(title, header, rows), FORMATS["xlsx"]
    if fmt == "csv":
        return to_csv(header, rows), FORMATS["csv"]
    raise ValueError(f"format: expected csv or xlsx, got {fmt!r}")


def disposition(filename: str, fallback: str) -> str:
    """A ``Content-Disposition`` for a download named ``filename`` (a person's own, in any
    script): the name as RFC 6266/5987 ``filename*`` (UTF-8, percent-encoded) and ``fallback``
    (ASCII) for clients that read only ``filename``; no quote, slash or control character of the
    name reaches the header."""
    from urllib.parse import quote

    clean = "".join(c for c in filename if c.isprintable() and c not in '"\\/').strip() or fallback
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in fallback)
    return f"attachment; filename=\"{safe}\"; filename*=UTF-8''{quote(clean, safe='')}"


def evidence_download(facts: dict[str, Any]) -> str:
    """The ``Content-Disposition`` of a file a borrower attached: their own file name, and
    ``<evidence id><extension of its type>`` for clients that read only ASCII."""
    import mimetypes

    ext = mimetypes.guess_extension(str(facts.get("content_type") or "")) or ""
    return disposition(str(facts.get("filename") or ""), f"{facts['evidence_id']}{ext}")
