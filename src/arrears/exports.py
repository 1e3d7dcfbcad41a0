"""Files that leave arrears (agency placements and recalls, the print vendor's manifest, the
ingest error report) and are opened in a spreadsheet.

A cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a formula to
Excel, LibreOffice and Google Sheets: a borrower named ``=HYPERLINK("http://…")`` would run in
the agency's spreadsheet. Every text cell is neutralised as OWASP advises, with a leading
apostrophe, which the spreadsheet shows as text and does not keep. Numbers are written as
numbers (a negative amount stays -100)."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
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
