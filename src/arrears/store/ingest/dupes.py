"""Keys seen in one ingest batch, to refuse a key given twice (the same loan id twice, two
borrower rows for one id), naming both rows. Without this an upsert silently lets the last row
win.

The keys of every accepted row are kept in an embedded DuckDB table (not Python objects): exact,
compact, and spilled to disk past its memory limit, so a batch of millions of instalments is
checked without holding millions of strings in this process. The check runs once per entity
when its files are all read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: separates the parts of a composite key (never in an identifier or a number)
SEP = "\x1f"


@dataclass(frozen=True)
class Repeat:
    key: str  # the key as the lender wrote it ("LN1" or "LN1, 3")
    first: tuple[int, int]  # (file index, row) of its first row
    again: tuple[int, int]  # ... and of a later one


class KeyLedger:
    def __init__(self) -> None:
        import duckdb

        self.con: Any = duckdb.connect()
        self.con.execute("SET memory_limit = '512MB'")
        self.con.execute("SET preserve_insertion_order = false")
        self._tables: set[str] = set()

    def add(self, entity: str, keys: list[pa.Array], file: int, rows: np.ndarray) -> None:
        """Remember the keys (one array per key column) of accepted rows ``rows`` of ``file``."""
        if len(rows) == 0:
            return
        parts = [pc.cast(k, pa.string()) for k in keys]
        key = parts[0] if len(parts) == 1 else pc.binary_join_element_wise(*parts, SEP)
        chunk = pa.table(
            {
                "key": key,
                "file": pa.array(np.full(len(rows), file, np.int32)),
                "row": pa.array(np.asarray(rows, np.int64)),
            }
        )
        name = f"k_{entity}"
        self.con.register("chunk", chunk)
        if name not in self._tables:
            self.con.execute(f"CREATE TABLE {name} AS SELECT * FROM chunk")
            self._tables.add(name)
        else:
            self.con.execute(f"INSERT INTO {name} SELECT * FROM chunk")
        self.con.unregister("chunk")

    def repeats(self, entity: str, limit: int = 1000) -> list[Repeat]:
        """Keys of ``entity`` given more than once: the first row and each later one."""
        name = f"k_{entity}"
        if name not in self._tables:
            return []
        rows = self.con.execute(
            f"""
            WITH ranked AS (
                SELECT key, file, row,
                       row_number() OVER (PARTITION BY key ORDER BY file, row) AS k,
                       first_value(file) OVER (PARTITION BY key ORDER BY file, row) AS f0,
                       first_value(row) OVER (PARTITION BY key ORDER BY file, row) AS r0
                FROM {name}
                WHERE key IN (SELECT key FROM {name} GROUP BY key HAVING count(*) > 1)
            )
            SELECT key, f0, r0, file, row FROM ranked WHERE k > 1
            ORDER BY file, row LIMIT {int(limit)}
            """
        ).fetchall()
        return [
            Repeat(k.replace(SEP, ", "), (int(f0), int(r0)), (int(f), int(r)))
            for k, f0, r0, f, r in rows
        ]

    def close(self) -> None:
        if self.con is not None:
            self.con.close()
            self.con = None  # nothing of DuckDB outlives the batch (not even in a traceback)
