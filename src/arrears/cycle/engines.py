"""Where the plan's Ibis expression runs: DuckDB in-process (the embedded default) or Spark
(local mode here, a cluster in production). Both take Arrow tables in and give Arrow out."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import ibis
import ibis.expr.types as ir
import pyarrow as pa

ENGINES = ("duckdb", "spark")


class Engine(Protocol):
    name: str

    def table(self, name: str, data: pa.Table) -> ir.Table: ...

    def parquet(self, name: str, path: Path, schema: pa.Schema) -> ir.Table:
        """The Parquet file at ``path`` as a table of ``schema`` (columns cast to its types),
        scanned by the engine itself."""
        ...

    def to_arrow(self, expr: ir.Table) -> pa.Table: ...

    def materialize(self, name: str, expr: ir.Table) -> ir.Table:
        """Compute ``expr`` once and keep it as a table for the next steps."""
        ...

    def compile(self, expr: ir.Table) -> str:
        """``expr`` as the engine's SQL (to run later, when its tables hold the day's data)."""
        ...

    def placeholder(self, name: str, schema: Any) -> ir.Table:
        """An empty table ``name`` of an Ibis ``schema``, to compile queries against."""
        ...

    def materialize_sql(self, name: str, sql: str) -> ir.Table:
        """:meth:`materialize` for compiled SQL."""
        ...

    def sql_to_arrow(self, sql: str, schema: pa.Schema) -> pa.Table:
        """Run compiled SQL; the result in ``schema`` (the compiled expression's)."""
        ...

    def close(self) -> None: ...


class DuckDB:
    name = "duckdb"

    def __init__(self, threads: int | None = None) -> None:
        self.con = ibis.duckdb.connect()
        if threads:
            self.con.raw_sql(f"SET threads = {int(threads)}")
        self.con.raw_sql("SET TimeZone = 'UTC'")
        self.con.raw_sql("SET preserve_insertion_order = false")

    def table(self, name: str, data: pa.Table) -> ir.Table:
        self.con.con.register(name, data)  # scanned in place: no copy of the Arrow buffers
        return self.con.table(name)

    def parquet(self, name: str, path: Path, schema: pa.Schema) -> ir.Table:
        cols = ", ".join(f'CAST("{f.name}" AS {_DUCKDB[f.type]}) AS "{f.name}"' for f in schema)
        source = str(path).replace("'", "''")
        self.con.raw_sql(
            f"CREATE OR REPLACE TEMP VIEW \"{name}\" AS SELECT {cols} FROM read_parquet('{source}')"
        )
        return self.con.table(name)

    def to_arrow(self, expr: ir.Table) -> pa.Table:
        return self.con.to_pyarrow(expr)

    def materialize(self, name: str, expr: ir.Table) -> ir.Table:
        # one statement (Ibis's create_table(overwrite=True) would write the rows twice)
        sql = self.con.compile(expr)
        self.con.raw_sql(f'CREATE OR REPLACE TEMP TABLE "{name}" AS {sql}')
        return self.con.table(name)

    def compile(self, expr: ir.Table) -> str:
        return str(self.con.compile(expr))

    def placeholder(self, name: str, schema: Any) -> ir.Table:
        return self.con.create_table(name, schema=schema, temp=True, overwrite=True)

    def materialize_sql(self, name: str, sql: str) -> ir.Table:
        self.con.raw_sql(f'CREATE OR REPLACE TEMP TABLE "{name}" AS {sql}')
        return self.con.table(name)

    def sql_to_arrow(self, sql: str, schema: pa.Schema) -> pa.Table:
        return self.con.con.sql(sql).to_arrow_table().cast(schema)

    def close(self) -> None:
        self.con.disconnect()


class Spark:
    """PySpark through Ibis. Local mode with a UTC session clock and Arrow transfer."""

    name = "spark"

    def __init__(self, master: str = "local[2]", session: Any = None) -> None:
        from pyspark.sql import SparkSession

        self.owned = session is None
        self.session = session or (
            SparkSession.builder.master(master)
            .appName("arrears-cycle")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .config("spark.sql.shuffle.partitions", "8")
            .config("spark.driver.memory", "4g")
            .getOrCreate()
        )
        self.session.sparkContext.setLogLevel("ERROR")
        self.con = ibis.pyspark.connect(self.session)

    def table(self, name: str, data: pa.Table) -> ir.Table:
        df = self.session.createDataFrame(data)
        df.createOrReplaceTempView(name)
        return self.con.table(name)

    def parquet(self, name: str, path: Path, schema: pa.Schema) -> ir.Table:
        from pyspark.sql import functions as F

        df = self.session.read.parquet(str(path))
        df = df.select(*[F.col(f.name).cast(_SPARK[f.type]).alias(f.name) for f in schema])
        df.createOrReplaceTempView(name)
        return self.con.table(name)

    def to_arrow(self, expr: ir.Table) -> pa.Table:
        return self.sql_to_arrow(self.compile(expr), expr.schema().to_pyarrow())

    def sql_to_arrow(self, sql: str, schema: pa.Schema) -> pa.Table:
        # Spark's own Arrow export (no pandas in between), then Ibis's schema for the types
        table = self.session.sql(sql).toArrow()
        fields = []
        for f in schema:
            if pa.types.is_timestamp(f.type):  # the session clock is UTC: say so
                f = f.with_type(pa.timestamp("us", tz="UTC"))
            fields.append(f)
        return table.cast(pa.schema(fields))

    def compile(self, expr: ir.Table) -> str:
        return str(self.con.compile(expr))

    def placeholder(self, name: str, schema: Any) -> ir.Table:
        return self.table(name, schema.to_pyarrow().empty_table())

    def materialize(self, name: str, expr: ir.Table) -> ir.Table:
        return self.materialize_sql(name, self.compile(expr))

    def materialize_sql(self, name: str, sql: str) -> ir.Table:
        df = self.session.sql(sql).cache()
        df.createOrReplaceTempView(name)
        return self.con.table(name)

    def close(self) -> None:
        if self.owned:
            self.session.stop()


_TYPES = (
    (pa.string(), "VARCHAR", "string"),
    (pa.int64(), "BIGINT", "bigint"),
    (pa.int32(), "INTEGER", "int"),
    (pa.float64(), "DOUBLE", "double"),
    (pa.bool_(), "BOOLEAN", "boolean"),
    (pa.date32(), "DATE", "date"),
    (pa.timestamp("us", tz="UTC"), "TIMESTAMPTZ", "timestamp"),
)
_DUCKDB = {arrow: duck for arrow, duck, _ in _TYPES}
_SPARK = {arrow: spark for arrow, _, spark in _TYPES}


def connect(name: str) -> Engine:
    if name == "duckdb":
        return DuckDB()
    if name == "spark":
        return Spark()
    raise ValueError(f"engine: expected one of {', '.join(ENGINES)}, got {name!r}")
