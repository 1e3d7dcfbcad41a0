"""Engines and migrations: SQLite (WAL) embedded by default, PostgreSQL in production."""

from __future__ import annotations

import functools
import time
import weakref
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, Engine, Insert, Table, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA cache_size=-262144")  # 256 MiB of page cache: bulk upserts stay in memory
    cur.execute("PRAGMA temp_store=MEMORY")
    cur.close()


def make_engine(url: str) -> Engine:
    """An engine for ``url``; a SQLite file's folder is created and WAL mode switched on."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def alembic_config() -> Config:
    from alembic.config import Config  # deferred: alembic is slow to import

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the store's schema up to ``revision`` (all migrations by default)."""
    from alembic import command

    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


@functools.cache
def head_revision() -> str | None:
    """The newest migration shipped (read once: the package does not change under us)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


#: engines found current, and when (a server asks on every request; a schema seen current
#: stays current unless someone migrates it, so the answer is kept for a minute)
_CURRENT: weakref.WeakKeyDictionary[Engine, float] = weakref.WeakKeyDictionary()
CURRENT_FOR_SECONDS = 60.0


def is_current(engine: Engine) -> bool:
    seen = _CURRENT.get(engine)
    if seen is not None and time.monotonic() - seen < CURRENT_FOR_SECONDS:
        return True
    ok = current_revision(engine) == head_revision()
    if ok:
        _CURRENT[engine] = time.monotonic()
    return ok


def upsert_statement(conn: Connection, table: Table, keys: tuple[str, ...]) -> Insert:
    """INSERT ... ON CONFLICT (keys) DO UPDATE every other column, for SQLite and PostgreSQL."""
    dialect = conn.dialect.name
    if dialect == "sqlite":
        lite = sqlite.insert(table)
        return lite.on_conflict_do_update(
            index_elements=list(keys),
            set_={c.name: lite.excluded[c.name] for c in table.columns if c.name not in keys},
        )
    if dialect == "postgresql":
        pg = postgresql.insert(table)
        return pg.on_conflict_do_update(
            index_elements=list(keys),
            set_={c.name: pg.excluded[c.name] for c in table.columns if c.name not in keys},
        )
    raise NotImplementedError(f"upsert is not implemented for {dialect}")


def upsert_sql(
    conn: Connection, table: Table, keys: tuple[str, ...], names: list[str] | None = None
) -> str:
    """The driver-level upsert for fast executemany: ``names`` (every column of ``table`` by
    default), in order; a column left out keeps its stored value on update."""
    names = names or [c.name for c in table.columns]
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    updates = ", ".join(f"{n} = excluded.{n}" for n in names if n not in keys)
    return (
        f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join([mark] * len(names))}) "
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"
    )


def insert_sql(conn: Connection, table: Table, names: list[str]) -> str:
    """A driver-level INSERT of ``names`` (for executemany with tuples)."""
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    return (
        f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join([mark] * len(names))})"
    )


def delete_by_sql(conn: Connection, table: Table, column: str) -> str:
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    return f"DELETE FROM {table.name} WHERE {column} = {mark}"


def driver_values(col: pa.ChunkedArray | pa.Array, sqlite: bool) -> list[Any]:
    """An Arrow column as the DB-API driver wants it: SQLite takes dates as ISO text, instants as
    naive UTC text (the way SQLAlchemy keeps them), booleans as 0/1."""
    if sqlite and pa.types.is_date32(col.type):
        col = pc.cast(col, pa.string())
    elif sqlite and pa.types.is_timestamp(col.type):
        col = pc.strftime(pc.cast(col, pa.timestamp("us", tz="UTC")), "%Y-%m-%d %H:%M:%S")
    elif sqlite and pa.types.is_boolean(col.type):
        col = pc.cast(col, pa.int8())
    values: list[Any] = col.to_pylist()
    return values


def insert_arrow(conn: Connection, table: Table, data: pa.Table, chunk: int = 50_000) -> None:
    """Insert an Arrow table's rows (its columns named as the table's) with driver executemany."""
    sqlite = conn.dialect.name == "sqlite"
    names = data.column_names
    sql = insert_sql(conn, table, names)
    for k in range(0, data.num_rows, chunk):
        part = data.slice(k, chunk)
        cols = [driver_values(part[n], sqlite) for n in names]
        conn.exec_driver_sql(sql, list(zip(*cols, strict=True)))


def as_utc(at: datetime) -> datetime:
    """An instant read back from the store, aware and in UTC (SQLite hands back naive UTC)."""
    if at.tzinfo is None:
        return at.replace(tzinfo=UTC)
    return at.astimezone(UTC)
