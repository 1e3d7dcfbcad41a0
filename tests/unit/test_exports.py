"""Cells that would be formulas in a spreadsheet are neutralised in every exported CSV."""

from __future__ import annotations

import csv
import io

from arrears import exports


def test_formula_cells_are_neutralised_and_numbers_kept() -> None:
    buf = io.StringIO()
    w = exports.writer(buf)
    w.writerow(["=1+1", "+86 138", "-2", "@SUM(A1)", "\tx", "\rx", "张三", -100, 0, None])
    [row] = list(csv.reader(io.StringIO(buf.getvalue())))
    assert row[:6] == ["'=1+1", "'+86 138", "'-2", "'@SUM(A1)", "'\tx", "'\rx"]
    assert row[6:] == ["张三", "-100", "0", ""]
    buf = io.StringIO()
    d = exports.dict_writer(buf, ["name", "due"])
    d.writeheader()
    d.writerows([{"name": '=HYPERLINK("http://x")', "due": 5}])
    assert list(csv.DictReader(io.StringIO(buf.getvalue()))) == [
        {"name": '\'=HYPERLINK("http://x")', "due": "5"}
    ]
