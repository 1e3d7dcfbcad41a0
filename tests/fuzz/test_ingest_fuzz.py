"""Fuzz the ingest readers and loader with bad files: random bytes, other encodings, damaged
and truncated files, broken CSV, files that are not Parquet named .parquet, Parquet columns of
every other type, hostile JSON lines, and valid rows with random fields.

The contract (see :func:`tests.fuzz.ingest_support.run_ingest`): ``ingest`` succeeds, or raises
``IngestRejected`` whose errors name file, row and column, or ``FileError`` naming the file;
never anything else; and a refusal leaves every table of the store as it was.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from arrears.store.ingest.entities import ENTITIES
from tests.fuzz.helpers import Tally, fuzz
from tests.fuzz.ingest_support import (
    COLUMNS,
    ENTITY_NAMES,
    EXTENSIONS,
    IngestStore,
    build_store,
    csv_text,
    file_bytes,
    jsonl_text,
    parquet_bytes,
    run_ingest,
)

Draw = Callable[[st.SearchStrategy[Any]], Any]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IngestStore]:
    s = build_store(tmp_path_factory.mktemp("ingest-fuzz"))
    yield s
    s.app.engine.dispose()


entities = st.sampled_from(ENTITY_NAMES)
parts = st.sampled_from(["", "-part", "-2026-11"])
file_names = st.builds(lambda e, p, x: f"{e}{p}.{x}", entities, parts, st.sampled_from(EXTENSIONS))

#: cell values that have broken loaders before: numbers in other scripts, dates out of range,
#: control characters, formulas, limits plus one
ODD = [
    "", " ", "\t", "null", "NULL", "None", "NaN", "nan", "inf", "-inf", "Infinity", "1e3",
    "1E400", "-0", "+1", "-1", "0", "0x1F", "1_000", "1,000", "１２３", "١٢٣", "९", "²",
    "9" * 18, "9" * 19, "9" * 41, "-" + "9" * 18, "0.1", ".5", "5.", "1/2", "true", "false",
    "yes", "Y", "2", "2026-02-30", "2026-13-01", "0000-01-01", "1899-12-31", "2200-01-01",
    "9999-12-31", "2026-1-5", "２０２６-１１-２３", "2026-11-23T10:00:00",
    "2026-11-23T10:00:00+08:00",
    "2026-11-23T25:00:00Z", "2026-11-23 10:00:00+0800", "20261123", "2026-11-23T10:00:00+24:00",
    "Asia/Shanghai", "asia/shanghai", "UTC", "../../etc/passwd", "'; DROP TABLE loan; --",
    "=cmd|' /C calc'!A0", "<script>", "\x00", "a\x00b", "\x1b[31m", "\x1c1", "1\x1f", "\xa01",
    "1\u200b", "\u202eabc", "\ufeffX", "😀", "𝟙𝟚", "ǅ", "İ", "ß", "a" * 65, "a" * 201, "a" * 501,
    "x" * 5000, "sms,sms,push", "sms;email", "sms,fax", ",,,", "09:00-18:00", "24:00-25:00",
    "23:59-24:00", "B1", "L1", "cash", "fenqi", "LN0000000001", "BR0000000001", "nope", "-x",
    "a b", "zh-CN", "en", "fr", "CNY", "cny", "XXXX", "reversed", "posted", "explicit", "bullet",
    "principal_interest", "dispute", "phone", "email", "address", "guarantor", "cn_resident",
    "passport", "other", "110101199003077774", "11010119900307777X", "110101900307777",
    "line\nbreak", 'quo"te', "semi;colon", "back\\slash", "tab\tin",
]  # fmt: skip


def cell_values(samples: dict[str, list[dict[str, str]]]) -> st.SearchStrategy[str]:
    known = sorted({v for rows in samples.values() for r in rows for v in r.values() if v})
    return st.one_of(st.sampled_from(ODD), st.text(max_size=40), st.sampled_from(known))


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**45), max_value=10**45),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


# ------------------------------------------------------------------------------------------
# 1. random bytes under every name the loader reads


@st.composite
def random_files(draw: Draw) -> list[tuple[str, bytes]]:
    names = draw(st.lists(file_names, min_size=1, max_size=3, unique=True))
    out = []
    for name in names:
        data = draw(st.binary(max_size=2000))
        how = draw(st.sampled_from(["plain", "gzip", "after_header"]))
        if how == "after_header":
            entity = name.split(".")[0].split("-")[0]
            head = {"csv": ",".join(COLUMNS[entity]).encode() + b"\n", "par": b"PAR1"}
            data = head.get(name.split(".")[1][:3], b'{"x": 1}\n') + data
        elif how == "gzip":
            data = gzip.compress(data, mtime=0)
        out.append((name, data))
    return out


@fuzz(120)
@given(files=random_files())
def test_random_bytes_under_any_name(
    store: IngestStore, tally: Tally, files: list[tuple[str, bytes]]
) -> None:
    folder = store.folder()
    for name, data in files:
        (folder / name).write_bytes(data)
    run_ingest(store, folder, tally)


# ------------------------------------------------------------------------------------------
# 2. valid files in other encodings: GBK, UTF-16, Latin-1 ...

CODECS = ["gbk", "gb18030", "big5", "shift_jis", "utf-16", "utf-16-le", "utf-16-be", "utf-32",
          "latin-1", "cp1252", "koi8-r", "utf-8-sig", "utf-8"]  # fmt: skip
TEXTS = ["张三", "Müller Ünïcødé café", "Ωμέγα", "Иванов", "😀 emoji", "ﾊﾝｶｸ", "plain ascii"]


@st.composite
def encoded_file(draw: Draw, store: IngestStore) -> tuple[str, bytes, bool]:
    entity = draw(entities)
    ext = draw(st.sampled_from(["csv", "csv.gz", "jsonl", "ndjson", "jsonl.gz"]))
    codec = draw(st.sampled_from(CODECS))
    rows = [dict(r) for r in store.samples[entity][: draw(st.integers(1, 4))]]
    text_cols = [
        c
        for c in ("name", "creditor", "owner_name", "relation", "source")
        if c in store.columns[entity]
    ]
    for r in rows:
        for c in text_cols:
            r[c] = draw(st.one_of(st.sampled_from(TEXTS), st.text(min_size=1, max_size=20)))
    if ext.startswith("csv"):
        text = csv_text(store.columns[entity], rows, crlf=draw(st.booleans()))
    else:
        text = jsonl_text(rows, ascii_only=False)
    data = text.encode(codec, errors="replace")
    try:
        data.decode("utf-8")
        utf8 = True
    except UnicodeDecodeError:
        utf8 = False
    # CSV is UTF-8; JSON lines too (a JSON reader may decode UTF-16/32 correctly by itself, so
    # only the codecs that turn into mojibake must be refused there)
    refuse = not utf8 and (ext.startswith("csv") or not codec.startswith("utf"))
    if ext.endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    return f"{entity}.{ext}", data, refuse


@fuzz(100)
@given(data=st.data())
def test_other_encodings_are_refused_with_the_file_named(
    store: IngestStore, tally: Tally, data: st.DataObject
) -> None:
    name, content, refuse = data.draw(encoded_file(store))
    folder = store.folder()
    (folder / name).write_bytes(content)
    run_ingest(store, folder, tally, refuse=refuse)


# ------------------------------------------------------------------------------------------
# 3. valid files, damaged: truncated, bytes flipped, inserted or cut out


@st.composite
def damaged_file(draw: Draw, store: IngestStore) -> tuple[str, bytes]:
    entity = draw(entities)
    ext = draw(st.sampled_from(EXTENSIONS))
    rows = store.samples[entity][: draw(st.integers(1, 6))]
    columns = store.columns[entity]
    data = bytearray(file_bytes(f"x.{ext}", columns, rows, typed=draw(st.booleans())))
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["truncate", "flip", "insert", "cut", "zero"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "truncate":
            del data[at:]
        elif kind == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "cut":
            del data[at : at + draw(st.integers(1, 64))]
        else:
            data[at : at + 8] = bytes(len(data[at : at + 8]))
    return f"{entity}.{ext}", bytes(data)


@fuzz(150)
@given(data=st.data())
def test_damaged_and_truncated_files(store: IngestStore, tally: Tally, data: st.DataObject) -> None:
    name, content = data.draw(damaged_file(store))
    folder = store.folder()
    (folder / name).write_bytes(content)
    run_ingest(store, folder, tally)


# ------------------------------------------------------------------------------------------
# 4. broken CSV structure


def _cell(draw: Draw, cells: list[str], change: Callable[[str], str]) -> None:
    if cells:
        j = draw(st.integers(0, len(cells) - 1))
        cells[j] = change(cells[j])


def _huge(draw: Draw) -> str:
    size = draw(st.sampled_from([1000, 70_000, 140_000, 300_000]))
    return str(draw(st.sampled_from(["a", "9", "张", "\u00e9"]))) * size


CSV_EDITS: dict[str, Callable[[Draw, list[list[str]], list[str]], None]] = {
    "quote": lambda d, lines, cells: _cell(d, cells, lambda c: '"' + c),
    "inner_quote": lambda d, lines, cells: _cell(d, cells, lambda c: c[:1] + '"' + c[1:]),
    "nul": lambda d, lines, cells: _cell(d, cells, lambda c: c + "\x00"),
    "newline": lambda d, lines, cells: _cell(d, cells, lambda c: f'"{c}\n{c}"'),
    "spaces": lambda d, lines, cells: _cell(d, cells, lambda c: f"  {c}  "),
    "huge": lambda d, lines, cells: _cell(d, cells, lambda c: _huge(d)),
    "extra": lambda d, lines, cells: cells.extend(
        d(st.lists(st.text(max_size=5), min_size=1, max_size=3))
    ),
    "missing": lambda d, lines, cells: cells.__delitem__(
        slice(d(st.integers(0, max(0, len(cells) - 1))), None)
    ),
    "many": lambda d, lines, cells: cells.extend([""] * d(st.sampled_from([100, 1000, 5000]))),
    "dup_header": lambda d, lines, cells: lines[0].append(d(st.sampled_from(lines[0] or ["x"]))),
    "blank_header": lambda d, lines, cells: lines[0].insert(
        d(st.integers(0, len(lines[0]))), d(st.sampled_from(["", " ", " name", "Name", "name "]))
    ),
    "empty_line": lambda d, lines, cells: lines.insert(d(st.integers(1, len(lines))), []),
    "dup_column": lambda d, lines, cells: _dup_column(d, lines),
}


def _dup_column(draw: Draw, lines: list[list[str]]) -> None:
    """A column given twice, header and cells (as a spreadsheet's copy and paste does)."""
    j = draw(st.integers(0, max(0, len(lines[0]) - 1)))
    for cells in lines:
        if j < len(cells):
            cells.append(cells[j])


def _csv_edit(draw: Draw, lines: list[list[str]]) -> None:
    """One structural fault in ``lines`` (the header is line 0)."""
    cells = lines[draw(st.integers(0, len(lines) - 1))]
    CSV_EDITS[draw(st.sampled_from(sorted(CSV_EDITS)))](draw, lines, cells)


@st.composite
def broken_csv(draw: Draw, store: IngestStore) -> tuple[str, bytes]:
    entity = draw(entities)
    rows = store.samples[entity][: draw(st.integers(0, 5))] or store.samples[entity][:1]
    columns = store.columns[entity]
    lines = [list(columns)] + [[r.get(c, "") for c in columns] for r in rows]
    for _ in range(draw(st.integers(1, 4))):
        _csv_edit(draw, lines)
    sep = draw(st.sampled_from([",", ",", ";", "\t", "|"]))
    end = draw(st.sampled_from(["\n", "\r\n", "\r", "\n\n"]))
    text = end.join(sep.join(c for c in cells) for cells in lines)
    text = draw(st.sampled_from(["", "\ufeff", "\ufeff\ufeff", "\n", " "])) + text
    text += draw(st.sampled_from(["", end, end * 3, "\x1a"]))
    data = text.encode("utf-8", errors="surrogatepass")
    gz = draw(st.booleans())
    return f"{entity}.csv{'.gz' if gz else ''}", gzip.compress(data, mtime=0) if gz else data


@fuzz(150)
@given(data=st.data())
def test_broken_csv_structure(store: IngestStore, tally: Tally, data: st.DataObject) -> None:
    name, content = data.draw(broken_csv(store))
    folder = store.folder()
    (folder / name).write_bytes(content)
    run_ingest(store, folder, tally)


# ------------------------------------------------------------------------------------------
# 5. files named .parquet that are not Parquet (or not whole)


def _arrow_ipc(columns: list[str], rows: list[dict[str, str]]) -> bytes:
    table = pa.table({c: pa.array([r.get(c) for r in rows], pa.string()) for c in columns})
    buf = io.BytesIO()
    with pa.ipc.new_file(buf, table.schema) as w:
        w.write_table(table)
    return buf.getvalue()


@st.composite
def not_parquet(draw: Draw, store: IngestStore) -> tuple[str, bytes]:
    entity = draw(entities)
    rows = store.samples[entity][: draw(st.integers(1, 4))]
    columns = store.columns[entity]
    real = parquet_bytes(columns, rows, typed=draw(st.booleans()))
    other = draw(st.sampled_from([e for e in ENTITY_NAMES if e != entity]))
    kind = draw(
        st.sampled_from(
            [
                "csv",
                "jsonl",
                "random",
                "magic",
                "truncated",
                "footer",
                "gzip",
                "empty",
                "ipc",
                "other_entity",
                "magic_only",
            ]
        )
    )
    data = {
        "csv": lambda: csv_text(columns, rows).encode(),
        "jsonl": lambda: jsonl_text(rows).encode(),
        "random": lambda: draw(st.binary(max_size=500)),
        "magic": lambda: b"PAR1" + draw(st.binary(max_size=300)) + b"PAR1",
        "truncated": lambda: real[: draw(st.integers(0, len(real) - 1))],
        "footer": lambda: _scribble(draw, real, len(real) - draw(st.integers(5, 200))),
        "gzip": lambda: gzip.compress(real, mtime=0),
        "empty": lambda: b"",
        "ipc": lambda: _arrow_ipc(columns, rows),
        "other_entity": lambda: parquet_bytes(COLUMNS[other], store.samples[other][:2], False),
        "magic_only": lambda: b"PAR1PAR1",
    }[kind]()
    return f"{entity}{draw(parts)}.parquet", data


def _scribble(draw: Draw, data: bytes, at: int) -> bytes:
    at = max(0, at)
    junk = draw(st.binary(min_size=1, max_size=8))
    return data[:at] + junk + data[at + len(junk) :]


@fuzz(100)
@given(data=st.data())
def test_files_named_parquet_that_are_not(
    store: IngestStore, tally: Tally, data: st.DataObject
) -> None:
    name, content = data.draw(not_parquet(store))
    folder = store.folder()
    (folder / name).write_bytes(content)
    run_ingest(store, folder, tally)


# ------------------------------------------------------------------------------------------
# 6. Parquet whose columns have other types


def _ints(t: pa.DataType) -> st.SearchStrategy[Any]:
    info = np.iinfo(t.to_pandas_dtype())
    return st.integers(int(info.min), int(info.max))


ARROW_TYPES: dict[str, tuple[Callable[[], pa.DataType], Callable[[pa.DataType], Any]]] = {
    "int8": (pa.int8, _ints), "int32": (pa.int32, _ints), "int64": (pa.int64, _ints),
    "uint8": (pa.uint8, _ints), "uint32": (pa.uint32, _ints), "uint64": (pa.uint64, _ints),
    "float32": (pa.float32, lambda t: st.floats(width=32)),
    "float64": (pa.float64, lambda t: st.floats()),
    "bool": (pa.bool_, lambda t: st.booleans()),
    "date32": (pa.date32, lambda t: st.one_of(st.integers(-25_567, 84_000),  # 1900-2199
                                              st.integers(-(2**31), 2**31 - 1))),
    "timestamp_s": (lambda: pa.timestamp("s"), lambda t: st.integers(-(2**40), 2**40)),
    "timestamp_ms_utc": (lambda: pa.timestamp("ms", tz="UTC"),
                         lambda t: st.integers(-(2**52), 2**52)),
    "timestamp_us_sh": (lambda: pa.timestamp("us", tz="Asia/Shanghai"),
                        lambda t: st.integers(-(2**62), 2**62)),
    "timestamp_ns": (lambda: pa.timestamp("ns", tz="UTC"),
                     lambda t: st.integers(-(2**63) + 1, 2**63 - 1)),
    "time64": (lambda: pa.time64("us"), lambda t: st.integers(0, 86_400_000_000 - 1)),
    "duration": (lambda: pa.duration("s"), lambda t: st.integers(-(2**40), 2**40)),
    "decimal": (lambda: pa.decimal128(20, 4),
                lambda t: st.decimals(min_value=-(10**15), max_value=10**15, places=4,
                                      allow_nan=False)),
    "binary": (pa.binary, lambda t: st.binary(max_size=12)),
    "large_string": (pa.large_string, lambda t: st.text(max_size=12)),
    "string_view": (pa.string_view, lambda t: st.text(max_size=12)),
    "list_int": (lambda: pa.list_(pa.int64()), lambda t: st.lists(st.integers(-5, 5), max_size=3)),
    "list_str": (lambda: pa.list_(pa.string()),
                 lambda t: st.lists(st.text(max_size=4), max_size=3)),
    "struct": (lambda: pa.struct([("a", pa.int64())]),
               lambda t: st.fixed_dictionaries({"a": st.integers(-5, 5)})),
    "map": (lambda: pa.map_(pa.string(), pa.int64()),
            lambda t: st.lists(st.tuples(st.text(max_size=3), st.integers(0, 9)), max_size=2)),
    "null": (pa.null, lambda t: st.none()),
}  # fmt: skip


def _kind(col: Any) -> str:
    """What a column holds, by its checks: iso_date, integer, identifier, text, instant."""
    check = getattr(col.vector, "__qualname__", "") or ""
    name = check.split(".")[0]
    if name in ("iso_date", "integer", "identifier", "text"):
        return name
    return "instant" if getattr(col.parse, "__name__", "") == "instant" else "other"


#: the types a lender's Parquet may well give a column of each kind (the rest are rarer)
FAMILIES = {
    "iso_date": ["date32", "timestamp_s", "timestamp_ms_utc", "timestamp_ns", "large_string"],
    "integer": ["int8", "int32", "int64", "uint32", "uint64", "float64", "decimal", "bool"],
    "identifier": ["int64", "uint64", "binary", "large_string", "string_view", "dictionary"],
    "text": ["binary", "large_string", "string_view", "dictionary", "int64", "float64"],
    "instant": ["timestamp_s", "timestamp_ms_utc", "timestamp_us_sh", "timestamp_ns", "date32"],
    "other": ["dictionary", "bool", "int64", "float64", "binary", "large_string", "list_str"],
}  # fmt: skip
KINDS = {e.name: {c.name: _kind(c) for c in e.columns} for e in ENTITIES}


@st.composite
def typed_column(draw: Draw, valid: list[str | None], family: str) -> pa.Array:
    """A column: the valid values as text, dictionary-encoded or another string type, or values
    of another type (one a column of its kind is likely to have, or any)."""
    n = len(valid)
    anything = st.sampled_from(["text", "dictionary", "large", *ARROW_TYPES])
    kind = draw(st.one_of(st.sampled_from(FAMILIES[family]), anything))
    if kind in ("text", "dictionary", "large", "large_string", "string_view"):
        t = {
            "large": pa.large_string(),
            "large_string": pa.large_string(),
            "string_view": pa.string_view(),
        }.get(kind, pa.string())
        array = pa.array(valid, t)
        return array.dictionary_encode() if kind == "dictionary" else array
    make, values = ARROW_TYPES[kind]
    t = make()
    items = draw(st.lists(st.one_of(st.none(), values(t)), min_size=n, max_size=n))
    if kind == "decimal":
        items = [None if v is None else Decimal(v) for v in items]
    return pa.array(items, t)


@st.composite
def typed_parquet(draw: Draw, store: IngestStore) -> tuple[str, bytes]:
    entity = draw(entities)
    rows = store.samples[entity][: draw(st.integers(1, 4))]
    columns = [c for c in COLUMNS[entity] if c in store.columns[entity] or draw(st.booleans())]
    if draw(st.booleans()):
        columns.append(draw(st.sampled_from(["extra", "Name", "loan_id ", "", "__index__"])))
    columns = list(dict.fromkeys(columns))
    retyped = draw(st.sets(st.sampled_from(columns), min_size=1, max_size=2))  # one fault or two
    arrays = {}
    for c in columns:
        valid = [r.get(c) or None for r in rows]
        family = KINDS[entity].get(c, "other")
        arrays[c] = draw(typed_column(valid, family)) if c in retyped else pa.array(valid)
    table = pa.table(arrays)
    buf = io.BytesIO()
    try:
        pq.write_table(table, buf, store_schema=draw(st.booleans()))
    except (pa.ArrowException, OverflowError):
        assume(False)  # a table Parquet cannot hold is no input
    return f"{entity}.parquet", buf.getvalue()


@fuzz(150)
@given(data=st.data())
def test_parquet_with_columns_of_other_types(
    store: IngestStore, tally: Tally, data: st.DataObject
) -> None:
    name, content = data.draw(typed_parquet(store))
    folder = store.folder()
    (folder / name).write_bytes(content)
    run_ingest(store, folder, tally)


# ------------------------------------------------------------------------------------------
# 7. JSON lines: wrong types, deep nesting, huge numbers, lines that are not objects

RAW_LINES = [
    b"[]", b"1", b'"text"', b"null", b"true", b"{", b"}", b'{"a":}', b"{'a': 1}", b"NaN",
    b'{"amount": NaN}', b'{"amount": Infinity}', b'{"amount": -Infinity}', b'{"amount": 1e999}',
    b'{"amount": ' + b"9" * 41 + b"}", b'{"amount": ' + b"9" * 4400 + b"}", b'{"amount": 1.' +
    b"0" * 5000 + b"}", b"[" * 5 + b"]" * 5, b"[" * 50_000, b'{"a": ' * 1000 + b"1" + b"}" * 1000,
    b'{"loan_id": "\\ud800"}', b'{"\\udfff": 1}', b'{"name": "\\u0000"}', b'{"a": 1, "a": 2}',
    b"\xef\xbb\xbf{}", b"\xff\xfe{\x00}\x00", b'{"x": "\xff"}', b"\x00", b"{}\x00", b"{} {}",
    b"{}" + b" " * 2_000_000, b'{"name": "' + b"a" * 1_100_000 + b'"}', b"\t", b"\r", b"\x0c",
]  # fmt: skip


@st.composite
def json_lines(draw: Draw, store: IngestStore) -> tuple[str, bytes]:
    entity = draw(entities)
    out: list[bytes] = []
    for row in store.samples[entity][: draw(st.integers(0, 4))]:
        obj: dict[str, Any] = dict(row)
        for _ in range(draw(st.integers(0, 3))):
            key = draw(st.one_of(st.sampled_from(list(obj) or ["x"]), st.text(max_size=6)))
            obj[key] = draw(json_values)
        out.append(json.dumps(obj, ensure_ascii=draw(st.booleans())).encode())
    for _ in range(draw(st.integers(0, 2))):
        line = draw(
            st.one_of(st.sampled_from(RAW_LINES), json_values.map(lambda v: json.dumps(v).encode()))
        )
        out.insert(draw(st.integers(0, len(out))), line)
    end = draw(st.sampled_from([b"\n", b"\r\n", b"\n\n"]))
    data = end.join(out) + draw(st.sampled_from([b"", end]))
    ext = draw(st.sampled_from(["jsonl", "ndjson", "jsonl.gz"]))
    return f"{entity}.{ext}", gzip.compress(data, mtime=0) if ext.endswith("gz") else data


@fuzz(150)
@given(data=st.data())
def test_json_lines_with_wrong_values(
    store: IngestStore, tally: Tally, data: st.DataObject
) -> None:
    name, content = data.draw(json_lines(store))
    folder = store.folder()
    (folder / name).write_bytes(content)
    run_ingest(store, folder, tally)


# ------------------------------------------------------------------------------------------
# 8. valid rows with random fields, several files at once, every format


def _mutate(
    draw: Draw, rows: list[dict[str, Any]], columns: list[str], values: st.SearchStrategy[Any]
) -> None:
    """One change to a file's rows or columns."""
    kind = draw(
        st.sampled_from(
            [
                "set",
                "set",
                "set",
                "set",
                "blank",
                "drop_column",
                "rename",
                "extra_column",
                "swap",
                "repeat_row",
            ]
        )
    )
    k = draw(st.integers(0, len(rows) - 1))
    col = draw(st.sampled_from(columns))
    if kind == "set":
        rows[k][col] = draw(values)
    elif kind == "blank":
        rows[k][col] = draw(st.sampled_from(["", None, " "]))
    elif kind == "drop_column" and len(columns) > 1:
        columns.remove(col)
    elif kind == "rename":
        columns[columns.index(col)] = draw(st.sampled_from([col.upper(), col + "_", " " + col]))
    elif kind == "extra_column":
        columns.append(draw(st.sampled_from(["extra", "id", "note", "备注"])))
    elif kind == "swap":
        other = draw(st.sampled_from(columns))
        rows[k][col], rows[k][other] = rows[k].get(other), rows[k].get(col)
    elif kind == "repeat_row":
        rows.append(dict(rows[k]))


@st.composite
def mutated_batch(draw: Draw, store: IngestStore) -> list[tuple[str, bytes, int]]:
    texts = st.one_of(cell_values(store.samples), st.integers(-(10**20), 10**20).map(str))
    out = []
    for entity in draw(st.lists(entities, min_size=1, max_size=3, unique=True)):
        name = f"{entity}{draw(parts)}.{draw(st.sampled_from(EXTENSIONS))}"
        base = store.samples[entity]
        picks = draw(st.lists(st.integers(0, len(base) - 1), min_size=1, max_size=5))
        rows: list[dict[str, Any]] = [dict(base[i]) for i in picks]
        columns = list(store.columns[entity])
        typed = ".json" in name or ".ndjson" in name
        values = st.one_of(texts, json_values) if typed else texts
        for _ in range(draw(st.integers(0, 4))):
            _mutate(draw, rows, columns, values)
        if ".json" in name or ".ndjson" in name:
            rows = [{c: r[c] for c in columns if r.get(c) is not None} for r in rows]
        out.append((name, file_bytes(name, columns, rows, typed=draw(st.booleans())), len(rows)))
    return out


@fuzz(250)
@given(data=st.data())
def test_valid_rows_with_random_fields(
    store: IngestStore, tally: Tally, data: st.DataObject
) -> None:
    files = data.draw(mutated_batch(store))
    folder = store.folder()
    for name, content, _ in files:
        (folder / name).write_bytes(content)
    chunk = data.draw(st.sampled_from([50_000, 50_000, 1, 2, 3]))  # chunk boundaries too
    run_ingest(store, folder, tally, rows={name: n for name, _, n in files}, chunk_rows=chunk)


@pytest.mark.parametrize("ext", EXTENSIONS)
def test_the_valid_samples_are_accepted(store: IngestStore, tally: Tally, ext: str) -> None:
    """The fuzzers start from rows the loader takes: all entities at once, in every format (a
    missing value is an empty cell in CSV, left out in JSON lines and null in Parquet; the
    fuzzers put empty strings in on purpose)."""
    folder = store.folder()
    for entity, rows in store.samples.items():
        name = f"{entity}.{ext}"
        (folder / name).write_bytes(file_bytes(name, store.columns[entity], rows, typed=True))
    assert run_ingest(store, folder, tally) == "accepted"


# ------------------------------------------------------------------------------------------
# the smallest inputs the fuzzers above found breaking the contract, kept as plain tests


def _pq(**columns: pa.Array) -> bytes:
    buf = io.BytesIO()
    pq.write_table(pa.table(columns), buf)
    return buf.getvalue()


def _gz_bad_crc(data: bytes) -> bytes:
    packed = gzip.compress(data, mtime=0)
    return packed[:-8] + b"\0\0\0\0" + packed[-4:]  # the CRC-32 of the content, wrong


PORTFOLIO_HEAD = b"portfolio_id,name,creditor\n"
PAID = b"payment_id,loan_id,paid_on,amount,reversed_on\n"
FOUND: dict[str, Callable[[], dict[str, bytes]]] = {
    # a blank optional id, number or date: refused as "refused", naming no column
    "csv-space-in-optional-date": lambda: {
        "payments.csv": PAID + b"PX,LN0000000001,2026-06-03,5, \n"},
    "parquet-empty-string-in-optional-date": lambda: {"payments.parquet": _pq(
        payment_id=pa.array(["PX"]), loan_id=pa.array(["LN0000000001"]),
        paid_on=pa.array(["2026-06-03"]), amount=pa.array([5]), reversed_on=pa.array([""]))},
    "jsonl-empty-string-in-optional-date": lambda: {"payments.jsonl": b'{"payment_id": "PX", '
        b'"loan_id": "LN0000000001", "paid_on": "2026-06-03", "amount": 5, "reversed_on": ""}\n'},
    "csv-separator-char-in-optional-text": lambda: {
        "borrowers.csv": b"borrower_id,name,national_id\nB9,x,\x1c\n"},
    # a JSON key "" is an unknown field with no column named
    "jsonl-empty-key": lambda: {"borrowers.jsonl": b'{"borrower_id": "B9", "name": "x", "": 1}\n'},
    # crashes
    "jsonl-lone-surrogate-value": lambda: {
        "borrowers.jsonl": b'{"borrower_id": "\\ud800", "name": "x"}\n'},
    "jsonl-lone-surrogate-key": lambda: {"borrowers.jsonl": b'{"\\ud800": 1}\n'},
    "jsonl-gz-truncated": lambda: {
        "borrowers.jsonl.gz": gzip.compress(b'{"borrower_id": "B9", "name": "x"}\n')[:-10]},
    "jsonl-gz-not-gzip": lambda: {"borrowers.jsonl.gz": b"not gzip"},
    "csv-gz-corrupt-deflate": lambda: {
        "portfolios.csv.gz": b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\x03garbage"},
    "csv-gz-not-utf8-bad-crc": lambda: {
        "portfolios.csv.gz": _gz_bad_crc(PORTFOLIO_HEAD + b"P9,\xff,c")},
    "csv-column-twice": lambda: {"portfolios.csv": b"portfolio_id,name,creditor,name\nP9,a,c,b\n"},
    "csv-space-for-required-value": lambda: {"contact_points.csv":
        b"contact_id,borrower_id,kind,value\nX1,BR0000000001,address, \n"},
    "csv-short-row-cut-in-a-character": lambda: {"portfolios.csv": PORTFOLIO_HEAD + b"<\xd9"},
    "parquet-list-for-id": lambda: {"portfolios.parquet": _pq(
        portfolio_id=pa.array([[1]]), name=pa.array(["a"]), creditor=pa.array(["c"]))},
    "parquet-list-for-choice": lambda: {"portfolios.parquet": _pq(
        portfolio_id=pa.array(["P9"]), name=pa.array(["a"]), creditor=pa.array(["c"]),
        currency=pa.array([["CNY"]]))},
    "parquet-struct-for-text": lambda: {"portfolios.parquet": _pq(
        portfolio_id=pa.array(["P9"]), name=pa.array([{"a": 1}]), creditor=pa.array(["c"]))},
    "parquet-binary-not-utf8": lambda: {"portfolios.parquet": _pq(
        portfolio_id=pa.array(["P9"]), name=pa.array([b"\xff"]), creditor=pa.array(["c"]))},
    "parquet-uint64-over-int64": lambda: {"portfolios.parquet": _pq(
        portfolio_id=pa.array(["P9"]), name=pa.array(["a"]), creditor=pa.array(["c"]),
        grace_days=pa.array([2**64 - 1], pa.uint64()))},
    "parquet-date-past-year-9999": lambda: {"arrangements.parquet": _pq(
        arrangement_id=pa.array(["AR9"]), loan_id=pa.array(["LN0000000001"]),
        kind=pa.array(["plan"]), starts_on=pa.array([3_000_000], pa.date32()))},
    "parquet-timestamp-past-year-9999": lambda: {"contacts.parquet": _pq(
        attempt_id=pa.array(["A9"]), borrower_id=pa.array(["BR0000000001"]),
        channel=pa.array(["sms"]), at=pa.array([10**15], pa.timestamp("s", tz="UTC")))},
    "parquet-dictionary-column": lambda: {"portfolios.parquet": _pq(
        portfolio_id=pa.array(["P9"]), name=pa.array(["a"]), creditor=pa.array(["c"]),
        currency=pa.array(["CNY"]).dictionary_encode())},
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(FOUND))
def test_inputs_found_by_fuzzing(store: IngestStore, tally: Tally, case: str) -> None:
    folder = store.folder()
    for name, content in FOUND[case]().items():
        (folder / name).write_bytes(content)
    run_ingest(store, folder, tally)


# Beyond the contract above, what docs/DATA_FORMATS.md promises: a row without a required
# value is refused (the fuzzers found rows that are taken, and stored without it)
MISSING_REQUIRED: dict[str, dict[str, bytes]] = {
    "jsonl-empty-object": {"loans.jsonl": b"{}\n"},
    "jsonl-empty-object-borrowers": {"borrowers.jsonl": b"{}\n"},
    "csv-space-for-required-name": {"borrowers.csv": b"borrower_id,name\nB9, \n"},
}


@pytest.mark.parametrize("case", sorted(MISSING_REQUIRED))
def test_rows_without_required_values_are_refused(
    store: IngestStore, tally: Tally, case: str
) -> None:
    folder = store.folder()
    for name, content in MISSING_REQUIRED[case].items():
        (folder / name).write_bytes(content)
    run_ingest(store, folder, tally, refuse=True)
