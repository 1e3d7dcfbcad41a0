"""Stream ingestion files in chunks: CSV (optionally .gz), Parquet, JSON lines.

Each chunk is ``(first_row, table)``: rows count from 1 (the CSV header is not a row) and the
table holds the chunk's columns as read (strings from CSV and JSON lines, typed from Parquet).
Memory stays bounded by the chunk size, whatever the file's size.
"""

from __future__ import annotations

import csv
import gzip
import io
import sys
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from arrears.parsing import ParseLimit, load_json

Chunk = tuple[int, pa.Table]  # (number of its first row, the rows)
Progress = Callable[[int], None]

SUFFIXES = (".csv", ".csv.gz", ".parquet", ".jsonl", ".ndjson", ".jsonl.gz")


class FileError(ValueError):
    """A file that cannot be read at all (bad header, not CSV, broken JSON line)."""

    def __init__(self, path: Path, reason: str, row: int | None = None) -> None:
        where = f"{path.name}" + (f", row {row}" if row is not None else "")
        super().__init__(f"{where}: {reason}")
        self.path = path
        self.row = row
        self.reason = reason


@dataclass(frozen=True)
class Source:
    path: Path
    entity: str
    fmt: str  # csv | parquet | jsonl

    @property
    def size(self) -> int:
        """What progress counts: bytes for text files, rows for Parquet."""
        if self.fmt == "parquet":
            return int(_parquet_file(self.path).metadata.num_rows)
        return self.path.stat().st_size


def _parquet_file(path: Path) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise FileError(
            path,
            f"not a Parquet file ({exc}); give Parquet, or name the file "
            ".csv or .jsonl for what it is",
        ) from None


def not_utf8(path: Path) -> FileError:
    """The error for a text file that is not UTF-8, naming its first bad line as a row."""
    try:
        return _first_bad_line(path)
    except BROKEN as exc:
        return FileError(path, f"cannot be read: {exc}")


#: what a damaged file (a cut or corrupt .gz) raises as it is read
BROKEN = (OSError, EOFError, zlib.error)


def _first_bad_line(path: Path) -> FileError:
    with _open_bytes(path) as fh:
        for number, line in enumerate(fh):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as exc:
                row = number if fmt_of(path) == "csv" else number + 1  # CSV: a header first
                bad = line[exc.start : exc.start + 2]
                return FileError(
                    path,
                    f"not UTF-8 (byte {exc.start + 1} of the line is {bad!r}); save it "
                    "as UTF-8, e.g. iconv -f GBK -t UTF-8",
                    row=row or None,
                )
    return FileError(path, "not UTF-8; save it as UTF-8, e.g. iconv -f GBK -t UTF-8")


def _open_bytes(path: Path) -> IO[bytes]:
    if path.name.lower().endswith(".gz"):
        return gzip.GzipFile(path, "rb")  # type: ignore[return-value]  # GzipFile is an IO[bytes]
    return path.open("rb")


def _open_text(path: Path) -> IO[str]:
    return io.TextIOWrapper(_open_bytes(path), encoding="utf-8-sig", newline="")


def fmt_of(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith((".csv", ".csv.gz")):
        return "csv"
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith((".jsonl", ".ndjson", ".jsonl.gz")):
        return "jsonl"
    return None


def header(src: Source) -> list[str]:
    if src.fmt == "parquet":
        return list(_parquet_file(src.path).schema_arrow.names)
    if src.fmt == "csv":
        try:
            with _open_text(src.path) as fh:
                first = next(csv.reader(fh), [])
        except UnicodeDecodeError:
            raise not_utf8(src.path) from None
        except (csv.Error, *BROKEN) as exc:
            raise FileError(src.path, f"not a readable CSV header: {exc}") from None
        return [c.strip() for c in first]
    return []  # JSON lines carry their keys row by row


class _Counting:
    """A file wrapper that reports bytes read, so a CSV's progress moves in bytes."""

    def __init__(self, raw: Any, progress: Progress | None) -> None:
        self._raw = raw
        self._progress = progress
        self.closed = False

    def read(self, n: int = -1) -> bytes:
        data: bytes = self._raw.read(n)
        if self._progress:
            self._progress(len(data))
        return data

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self.closed = True
        self._raw.close()


def read_chunks(src: Source, rows: int, progress: Progress | None = None) -> Iterator[Chunk]:
    if src.fmt == "csv":
        yield from _csv(src, rows, progress)
    elif src.fmt == "parquet":
        yield from _parquet(src, rows, progress)
    else:
        yield from _jsonl(src, rows, progress)


def _row_handler(src: Source, broken: list[FileError]) -> Callable[[Any], str]:
    """pyarrow's handler of a row with too few or too many cells (an unbalanced quote swallows
    the rest of its line): the first one is kept, named by its row, to stop the file."""

    def malformed(row: Any) -> str:
        if broken:
            return "skip"
        try:
            text = str(row.text)
        except Exception:  # pyarrow could not decode the row's bytes: say so, no traceback
            text = "(not UTF-8)"
        try:
            line = _row_of(src.path, text) if row.number is None else row.number - 1
        except BROKEN:
            line = None
        said = (
            "an unbalanced quote or missing cells"
            if row.actual_columns < row.expected_columns
            else "extra cells"
        )
        broken.append(
            FileError(
                src.path,
                f"{row.actual_columns} cells where the header has "
                f"{row.expected_columns} ({said}): {text[:80]!r}",
                row=line,
            )
        )
        return "skip"

    return malformed


def _csv(src: Source, rows: int, progress: Progress | None) -> Iterator[Chunk]:
    names = header(src)
    convert = pacsv.ConvertOptions(
        column_types={n: pa.string() for n in names},
        strings_can_be_null=True,
        null_values=[""],
    )
    read = pacsv.ReadOptions(block_size=1 << 22, encoding="utf8")
    broken: list[FileError] = []
    malformed = _row_handler(src, broken)
    parse = pacsv.ParseOptions(newlines_in_values=False, invalid_row_handler=malformed)
    stream = _Counting(_open_bytes(src.path), progress)
    with _quiet_handler(malformed, lambda: broken.append(not_utf8(src.path))):
        yield from _csv_batches(src, stream, read, parse, convert, broken, rows)


def _csv_batches(
    src: Source,
    stream: Any,
    read: Any,
    parse: Any,
    convert: Any,
    broken: list[FileError],
    rows: int,
) -> Iterator[Chunk]:
    n = 0
    try:
        reader = pacsv.open_csv(
            stream, read_options=read, parse_options=parse, convert_options=convert
        )
        for batch in reader:
            if broken:
                raise broken[0]
            for start in range(0, batch.num_rows, rows):
                part = pa.Table.from_batches([batch.slice(start, rows)])
                yield n + 1, part
                n += part.num_rows
        if broken:
            raise broken[0]
    except pa.ArrowInvalid as exc:
        if "UTF8" in str(exc) or "utf8" in str(exc).lower():
            raise not_utf8(src.path) from None
        raise FileError(src.path, f"not a readable CSV file after row {n}: {exc}") from exc
    except BROKEN as exc:  # a truncated or corrupt .gz, a file gone
        raise FileError(src.path, f"cannot be read after row {n}: {exc}") from None
    finally:
        stream.close()


@contextmanager
def _quiet_handler(handler: Any, on_bad_bytes: Callable[[], None]) -> Iterator[None]:
    """pyarrow decodes a malformed row's bytes before it calls ``handler``; bytes that are not
    UTF-8 fail there, outside the handler, and Python would print the error as 'ignored'.
    Such an error is taken as what it means (the file is not UTF-8) instead."""
    before = sys.unraisablehook

    def hook(u: Any) -> None:
        if u.object is handler and isinstance(u.exc_value, UnicodeDecodeError):
            on_bad_bytes()
            return
        before(u)

    sys.unraisablehook = hook
    try:
        yield
    finally:
        sys.unraisablehook = before


def _row_of(path: Path, text: str) -> int | None:
    """The data row (the header is row 0) whose line is ``text``: the malformed row pyarrow
    found, when it cannot say where (read again only on this error path)."""
    with _open_bytes(path) as fh:
        for number, line in enumerate(fh):
            if line.rstrip(b"\r\n").decode("utf-8", "replace") == text:
                return number or None
    return None


def _parquet(src: Source, rows: int, progress: Progress | None) -> Iterator[Chunk]:
    n = 0
    pf = _parquet_file(src.path)
    try:
        for batch in pf.iter_batches(batch_size=rows):
            yield n + 1, pa.Table.from_batches([batch])
            n += batch.num_rows
            if progress:
                progress(batch.num_rows)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as exc:
        raise FileError(src.path, f"not a readable Parquet file after row {n}: {exc}") from exc


def _jsonl_value(value: Any) -> str | None:
    """JSON values as the text a CSV would hold, so one set of checks serves both."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def _jsonl_table(objs: list[dict[str, Any]]) -> pa.Table:
    keys = list(dict.fromkeys(k for o in objs for k in o))
    return pa.table(
        {k: pa.array([_jsonl_value(o.get(k)) for o in objs], pa.string()) for k in keys}
    )


def _jsonl(src: Source, rows: int, progress: Progress | None) -> Iterator[Chunk]:
    try:
        yield from _jsonl_lines(src, rows, progress)
    except BROKEN as exc:  # a truncated or corrupt .gz
        raise FileError(src.path, f"cannot be read: {exc}") from None


def _jsonl_lines(src: Source, rows: int, progress: Progress | None) -> Iterator[Chunk]:
    objs: list[dict[str, Any]] = []
    first = 1
    n = 0
    with _open_bytes(src.path) as stream:
        for line in stream:
            if progress:
                progress(len(line))
            if not line.strip():
                continue
            n += 1
            try:
                obj = load_json(line, "line", max_bytes=1024 * 1024, max_depth=4)
            except ParseLimit as exc:
                if "not UTF-8" in str(exc):
                    raise not_utf8(src.path) from None
                raise FileError(src.path, str(exc).removeprefix("line: "), row=n) from None
            if not isinstance(obj, dict):
                raise FileError(src.path, "each line must be a JSON object", row=n)
            if not obj:
                raise FileError(src.path, "an empty object: a row names its columns", row=n)
            objs.append(obj)
            if len(objs) >= rows:
                yield first, _jsonl_table(objs)
                first, objs = n + 1, []
    if objs:
        yield first, _jsonl_table(objs)
