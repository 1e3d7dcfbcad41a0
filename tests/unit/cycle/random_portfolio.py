"""Random portfolios with random collection history, as the cycle's snapshot: the generator's
loans plus contacts, holds, promises, arrangements, prior stages, opt-outs and agreed windows
drawn so that every branch of the strategy and the gate is reached."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa

from arrears.cycle.snapshot import SCHEMAS, Snapshot, conform
from arrears.domain.codec import POLICY_FIELDS
from arrears.generate.portfolio import PORTFOLIOS, make_chunk

CHANNELS = ("call", "robocall", "sms", "push", "email")
RESULTS = ("connected", "conversation", "no_answer", "busy", "not_in_service", "voicemail", None)
HOLDS = ("cease_request", "attorney_represented", "bankruptcy", "deceased", "dispute",
         "complaint", "legal", "hardship")  # fmt: skip
STAGES = ("pre_due", "early", "mid", "late", "legal")
CONSENTS = ("sms,push,email,letter,robocall,agent_call,visit", "sms,push,email,letter,agent_call",
            "sms,email", None)  # fmt: skip


def _ts(day: date, rng: random.Random) -> datetime:
    base = datetime.combine(day, datetime.min.time(), tzinfo=UTC) - timedelta(hours=8)
    return base + timedelta(seconds=rng.randrange(86_400))


def snapshot(seed: int, n: int, as_of: date, us_share: float = 0.3) -> Snapshot:
    rng = random.Random(seed)
    rows = make_chunk(seed, 0, 0, n, as_of)
    portfolios = {p["portfolio_id"]: p for p in PORTFOLIOS}
    loans = sorted(rows["loans"], key=lambda r: r["loan_id"])
    us_borrowers: set[str] = set()
    for r in loans:
        p = portfolios[r["portfolio_id"]]
        for f in POLICY_FIELDS:
            if r.get(f) is None:
                r[f] = p.get(f)
        r["score"] = None if rng.random() < 0.05 else float(r["score"])
        r["product"] = p["product"]
        r["rulebook"] = p["rulebook"]
        if rng.random() < us_share:
            r["rulebook"] = "us-regf"
            us_borrowers.add(r["borrower_id"])
    index = {r["loan_id"]: k for k, r in enumerate(loans)}
    inst = [{**i, "loan_idx": index[i["loan_id"]]} for i in rows["instalments"]]
    pays = [{**p, "loan_idx": index[p["loan_id"]]} for p in rows["payments"]]
    inst.sort(key=lambda r: (r["loan_idx"], r["seq"]))
    pays.sort(key=lambda r: (r["loan_idx"], r["paid_on"]))
    borrowers = []
    for b in rows["borrowers"]:
        b = dict(b)
        if b["borrower_id"] in us_borrowers:
            b["timezone"] = rng.choice(("America/New_York", "America/Los_Angeles"))
        b["consents"] = rng.choice(CONSENTS)
        b["contact_window"] = rng.choice((None, None, None, "09:00-12:00", "20:00-09:00"))
        borrowers.append(b)
    points = [
        {**p, "opt_outs": rng.choice((None, None, "sms", "call", "sms,call", "email,letter"))}
        for p in rows["contact_points"]
        if p["owner_role"] == "borrower" and p["is_valid"]
    ]
    return Snapshot(
        as_of,
        loans=_t("loans", loans),
        instalments=_t("instalments", inst),
        payments=_t("payments", pays),
        borrowers=_t("borrowers", borrowers),
        points=_t("points", points),
        contacts=_t("contacts", _contacts(rng, loans, as_of)),
        promises=_t("promises", _promises(rng, loans, as_of)),
        holds=_t("holds", _holds(rng, loans, as_of)),
        arrangements=_t(
            "arrangements",
            [
                {"loan_id": r["loan_id"], "kind": rng.choice(("plan", "extension"))}
                for r in loans
                if rng.random() < 0.08
            ],
        ),
        stages=_t(
            "stages",
            [
                {
                    "loan_id": r["loan_id"],
                    "stage": rng.choice(STAGES),
                    "since": as_of - timedelta(days=rng.randrange(0, 40)),
                }
                for r in loans
                if rng.random() < 0.7
            ],
        ),
    )


def _contacts(rng: random.Random, loans: list[dict[str, Any]], as_of: date) -> list[dict[str, Any]]:
    out = []
    seen: set[datetime] = set()
    for r in loans:
        for _ in range(rng.choice((0, 0, 1, 3, 8, 12))):
            at = _ts(as_of - timedelta(days=rng.randrange(-1, 10)), rng)
            if at in seen:
                continue  # one contact per instant: "the last contact" is then well defined
            seen.add(at)
            out.append(
                {
                    "borrower_id": r["borrower_id"],
                    "loan_id": rng.choice((r["loan_id"], None)),
                    "channel": rng.choice(CHANNELS),
                    "at": at,
                    "direction": rng.choice(("outbound", "outbound", "outbound", "inbound")),
                    "role": rng.choice(("debtor", "debtor", "debtor", "emergency_contact")),
                    "result": rng.choice(RESULTS),
                }
            )
        if rng.random() < 0.4:  # a morning of answered calls: the daily limit is reached early
            for k in range(rng.choice((2, 3, 4))):
                day = datetime.combine(as_of - timedelta(days=1), datetime.min.time(), UTC)
                at = day + timedelta(hours=17 + k, minutes=rng.randrange(60))  # 01:00+ in China
                if at not in seen:
                    seen.add(at)
                    out.append(
                        {
                            "borrower_id": r["borrower_id"],
                            "loan_id": None,
                            "channel": "call",
                            "at": at,
                            "direction": "outbound",
                            "role": "debtor",
                            "result": "connected",
                        }
                    )
        if rng.random() < 0.15:  # a week of unanswered calls about this loan (us: 7 in 7 days)
            for k in range(7):
                at = _ts(as_of - timedelta(days=k % 6 + 1), rng)
                if at not in seen:
                    seen.add(at)
                    out.append(
                        {
                            "borrower_id": r["borrower_id"],
                            "loan_id": r["loan_id"],
                            "channel": "call",
                            "at": at,
                            "direction": "outbound",
                            "role": "debtor",
                            "result": "no_answer",
                        }
                    )
    return out


def _promises(rng: random.Random, loans: list[dict[str, Any]], as_of: date) -> list[dict[str, Any]]:
    out = []
    for r in loans:
        for _ in range(rng.choice((0, 0, 0, 1, 2))):
            status = rng.choice(("pending", "kept", "broken", "broken", "partly_kept"))
            settled = None if status == "pending" else as_of - timedelta(days=rng.randrange(120))
            out.append({"loan_id": r["loan_id"], "status": status, "settled_on": settled})
    return out


def _holds(rng: random.Random, loans: list[dict[str, Any]], as_of: date) -> list[dict[str, Any]]:
    out = []
    for r in loans:
        if rng.random() < 0.12:
            start = _ts(as_of - timedelta(days=rng.randrange(-1, 20)), rng)
            end = None if rng.random() < 0.5 else start + timedelta(hours=rng.randrange(1, 400))
            out.append(
                {
                    "borrower_id": r["borrower_id"],
                    "loan_id": rng.choice((r["loan_id"], None)),
                    "kind": rng.choice(HOLDS),
                    "starts_at": start,
                    "ends_at": end,
                }
            )
    return out


def _t(name: str, rows: list[dict[str, Any]]) -> pa.Table:
    schema = SCHEMAS[name]
    if not rows:
        return schema.empty_table()
    cols = {f.name: [r.get(f.name) for r in rows] for f in schema}
    table = pa.table(
        {
            k: pa.array(v) if any(x is not None for x in v) else pa.nulls(len(v))
            for k, v in cols.items()
        }
    )
    return conform(name, table, f"random {name}")
