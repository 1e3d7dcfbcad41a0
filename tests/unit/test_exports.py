"""Tables as files: formula-like text is disarmed in CSV and Excel, numbers stay numbers,
Chinese survives Excel's CSV reader (a byte-order mark), an unknown format is refused."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from openpyxl import load_workbook

from arrears.exports import cell as neutral
from arrears.exports import export, to_csv, to_xlsx

EVIL = ["=1+2", "+SUM(A1)", "-3+4", "@cmd", "\tx", "\rx"]


@pytest.mark.parametrize("text", EVIL)
def test_formula_text_is_disarmed(text: str) -> None:
    assert neutral(text) == "'" + text


@pytest.mark.parametrize("value", ["陈=1", "ok", "", 12, -5, 3.5, None])
def test_other_values_are_kept(value: object) -> None:
    assert neutral(value) == value  # type: ignore[arg-type]


def test_csv_reads_back_with_every_cell_inert() -> None:
    data = to_csv(["名字", "amount"], [[t, -5] for t in EVIL] + [["陈", 1200]])
    assert data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == ["名字", "amount"]
    assert all(r[0].startswith("'") for r in rows[1:-1]) and rows[-1] == ["陈", "1200"]
    assert all(r[1] == "-5" for r in rows[1:-1])  # a negative number is a number, not text


def test_xlsx_cells_are_text_not_formulas(tmp_path: object) -> None:
    at = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    data = to_xlsx("team", ["who", "n", "at"], [[t, 7, at] for t in EVIL])
    sheet = load_workbook(io.BytesIO(data)).active
    assert sheet is not None
    for row in sheet.iter_rows(min_row=2):
        assert row[0].data_type == "s" and str(row[0].value).startswith("'")
        assert row[1].value == 7
        assert row[2].value == at.isoformat()


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="format: expected csv or xlsx"):
        export("pdf", "t", ["a"], [])


def test_a_download_keeps_a_persons_file_name_and_nothing_that_breaks_the_header() -> None:
    from urllib.parse import unquote

    from arrears.exports import disposition

    said = disposition('催收录音 "3".mp3\r\nX-Evil: 1', "ev-1.mp3")
    assert said.startswith("attachment; filename=\"ev-1.mp3\"; filename*=UTF-8''")
    assert "\r" not in said and "\n" not in said and said.count('"') == 2
    assert unquote(said.split("''", 1)[1]) == "催收录音 3.mp3X-Evil: 1"
    climbing = disposition("../../etc/passwd", "ev-2.pdf")
    assert "%2F" not in climbing and "/" not in climbing.split("filename*=")[1]
    assert disposition("", "ev-3.pdf").endswith("filename*=UTF-8''ev-3.pdf")
