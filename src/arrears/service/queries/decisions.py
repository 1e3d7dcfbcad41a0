"""The decision log with its outcomes joined (docs/LEARNING.md): for each logged decision, what
the account paid on its day and from it to 7, 30, 60 and 90 days on, the contacts made, promises
taken and complaints received in the 7 days from it, and the stages it passed through in the 90 days
from it. What the models learn from, and the analysts' export (``arrears learn export``).

Days are business days in the business timezone; a window of k days from a decision's day d
is d to d + k - 1 (a payment on the decision's own day counts: the plan is made before it)."""

from __future__ import annotations

from datetime import date
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import and_, select

from arrears.bootstrap import App
from arrears.store import tables as t

#: the payment windows, in days
WINDOWS = (1, 7, 30, 60, 90)


def _arrow(conn: Any, query: Any, schema: pa.Schema) -> pa.Table:
    rows = conn.execute(query).all()
    return pa.table({f.name: pa.array([r[k] for r in rows], f.type) for k, f in enumerate(schema)})


def _local_day(at: pa.ChunkedArray, zone: str) -> pa.Array:
    """Aware instants as the business day they fall on in ``zone``."""
    aware = pc.cast(at, pa.timestamp("us", tz="UTC")).cast(pa.timestamp("us", tz=zone))
    return pc.cast(pc.local_timestamp(aware), pa.date32())


def decisions_with_outcomes(
    app: App, since: date | None = None, until: date | None = None
) -> pa.Table:
    """Every logged decision from ``since`` to ``until`` (inclusive), with its outcomes."""
    d, p, ca, pr, c, sc = (
        t.decision,
        t.payment,
        t.contact_attempt,
        t.promise,
        t.complaint,
        t.stage_change,
    )
    cond = []
    if since is not None:
        cond.append(d.c.business_date >= since)
    if until is not None:
        cond.append(d.c.business_date <= until)
    cols = [col for col in d.columns if col.name != "run_id"]
    with app.engine.connect() as conn:
        rows = conn.execute(select(*cols).where(and_(True, *cond))).all()
        decisions = pa.Table.from_pylist([dict(r._mapping) for r in rows]) if rows else None
        pays = _arrow(
            conn,
            select(p.c.loan_id, p.c.paid_on, p.c.amount).where(p.c.status == "posted"),
            pa.schema([("loan_id", pa.string()), ("paid_on", pa.date32()), ("amount", pa.int64())]),
        )
        made = _arrow(
            conn,
            select(ca.c.loan_id, ca.c.at).where(
                and_(ca.c.direction == "outbound", ca.c.loan_id.is_not(None))
            ),
            pa.schema([("loan_id", pa.string()), ("at", pa.timestamp("us", tz="UTC"))]),
        )
        promised = _arrow(
            conn,
            select(pr.c.loan_id, pr.c.made_at),
            pa.schema([("loan_id", pa.string()), ("at", pa.timestamp("us", tz="UTC"))]),
        )
        complained = _arrow(
            conn,
            select(c.c.loan_id, c.c.received_at).where(c.c.loan_id.is_not(None)),
            pa.schema([("loan_id", pa.string()), ("at", pa.timestamp("us", tz="UTC"))]),
        )
        stages = _arrow(
            conn,
            select(sc.c.loan_id, sc.c.as_of, sc.c.to_stage),
            pa.schema(
                [("loan_id", pa.string()), ("as_of", pa.date32()), ("to_stage", pa.string())]
            ),
        )
    if decisions is None:
        return empty()
    zone = app.settings.business_timezone
    events = {
        name: pa.table({"loan_id": tbl["loan_id"], "day": _local_day(tbl["at"], zone)})
        for name, tbl in (("made", made), ("promised", promised), ("complained", complained))
    }
    return _join(decisions, pays, events, stages)


def _join(
    decisions: pa.Table, pays: pa.Table, events: dict[str, pa.Table], stages: pa.Table
) -> pa.Table:
    con = duckdb.connect()
    try:
        con.register("d", decisions)
        con.register("pays", pays)
        con.register("stages", stages)
        for name, tbl in events.items():
            con.register(name, tbl)
        paid = ",\n".join(
            f"coalesce((SELECT sum(amount) FROM pays p WHERE p.loan_id = d.loan_id AND "
            f"p.paid_on >= d.business_date AND p.paid_on < d.business_date + {k}), 0) "
            f"AS paid_{k}d"
            for k in WINDOWS
        )
        counts = ",\n".join(
            f"(SELECT count(*) FROM {name} e WHERE e.loan_id = d.loan_id AND "
            f"e.day >= d.business_date AND e.day < d.business_date + 7) AS {name}_7d"
            for name in events
        )
        sql = f"""
            SELECT d.*, {paid},
              {counts},
              coalesce((SELECT string_agg(s.to_stage, '>' ORDER BY s.as_of) FROM stages s
                        WHERE s.loan_id = d.loan_id AND s.as_of > d.business_date
                          AND s.as_of < d.business_date + 90), '') AS stage_path
            FROM d ORDER BY d.business_date, d.loan_id, d.decision
        """
        out = con.sql(sql).to_arrow_table()
    finally:
        con.close()
    return out.rename_columns(
        [
            {
                "made_7d": "contacts_7d",
                "promised_7d": "promises_7d",
                "complained_7d": "complaints_7d",
            }.get(n, n)
            for n in out.column_names
        ]
    )


def empty() -> pa.Table:
    """No decisions: the columns alone."""
    return pa.table({"decision_id": pa.array([], pa.string())})
