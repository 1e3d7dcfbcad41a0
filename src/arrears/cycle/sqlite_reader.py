"""Whole-store reads of a SQLite store through ADBC, in a child process.

ADBC links its own copy of SQLite. Two SQLite libraries must never open one database file in
the same process: POSIX file locks belong to the process, so each library takes the other's
connections for its own; when ADBC's library closes what it believes is the last connection it
checkpoints and deletes the write-ahead log under the other library's open connections, and
writes committed since are lost. So the parent (a server, the cycle) only ever uses Python's
SQLite, and the fast columnar read runs here, in a process of its own, writing each table as an
Arrow IPC file the parent maps without a copy.

    python -m arrears.cycle.sqlite_reader < spec.json
    spec: {"database": PATH, "queries": {name: SQL}, "threads": N, "out": FOLDER}
"""

from __future__ import annotations

import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa


def read(database: str, sql: str) -> pa.Table:
    """One query's rows as Arrow, through ADBC's SQLite (in this process only)."""
    import adbc_driver_sqlite.dbapi as sqlite_adbc

    with sqlite_adbc.connect(database) as conn, conn.cursor() as cur:
        cur.execute("PRAGMA busy_timeout = 30000")  # wait out a writer's brief lock
        cur.fetchall()
        # batches of 64k rows, not the driver's 1k: a few hundred chunks, not thousands
        cur.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": "65536"})
        cur.execute(sql)
        table: pa.Table = cur.fetch_arrow_table()
        return table


def _write(table: pa.Table, path: Path) -> None:
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)


def main() -> None:
    spec = json.loads(sys.stdin.read())
    out = Path(spec["out"])
    with ThreadPoolExecutor(max(1, int(spec.get("threads", 2)))) as pool:
        futures = {
            name: pool.submit(read, spec["database"], sql) for name, sql in spec["queries"].items()
        }
        for name, future in futures.items():
            _write(future.result(), out / f"{name}.arrow")


if __name__ == "__main__":
    main()
