"""Fuzz the providers' webhooks with signed bodies of every shape and with hostile headers:
POST /api/v1/webhooks/sms, /email, /dialer and the portal's POST /portal/pay/notify.

The contract: never a 5xx (nor an exception out of the app); every 4xx is
``application/problem+json`` whose ``field`` is the one its detail names; and a request whose
signature or timestamp is wrong is never carried out (never 2xx).

The app is called in-process through ASGI (one event loop in a thread, as an ASGI server runs
it; Starlette's TestClient warns about its httpx and the suite turns warnings into errors),
which lets a test send header bytes no HTTP client would; a last test sends signed bodies over
real HTTP to uvicorn on loopback. The store holds what the callbacks act on: SMS, an email and
robocalls dispatched by a cycle over ``arrears generate`` loans, and a payment order; it is put
back before every request, so each input meets the same store.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import insert, select

from arrears.bootstrap import App
from arrears.channels.outbox import Outbox
from arrears.generate.portfolio import Options as GenOptions
from arrears.generate.portfolio import generate
from arrears.service.borrower import checkout
from arrears.service.daily.cycle import run_cycle
from arrears.service.outreach.dispatch import dispatch
from arrears.service.outreach.state import Options
from arrears.store import tables as t
from arrears.store.db import upgrade
from arrears.store.ingest.loader import ingest
from arrears.strategy.model import load
from arrears.web.api.webhooks import signature
from arrears.web.app import create_app
from tests.conftest import FIXED_NOW, make_app
from tests.fuzz.helpers import Tally, fuzz, problem_contract, tracebacks
from tests.support.servers import serve_asgi

Draw = Callable[[st.SearchStrategy[Any]], Any]
SECRET = "fuzz-webhook-secret"
DAY = date(2026, 11, 23)
HOOKS = ["/api/v1/webhooks/sms", "/api/v1/webhooks/email", "/api/v1/webhooks/dialer",
         "/portal/pay/notify"]  # fmt: skip
Answer = tuple[int, dict[str, str], bytes]


@dataclass
class Web:
    app: App
    api: FastAPI
    db: Path
    template: Path
    portal: BlockingPortal
    pay_secret: str
    known: dict[str, list[Any]] = field(default_factory=dict)

    def secret(self, path: str) -> str:
        return self.pay_secret if path.startswith("/portal/") else SECRET

    def reset(self) -> None:
        self.app.engine.dispose()
        for suffix in ("-wal", "-shm", ""):
            Path(f"{self.db}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(self.template, self.db)

    def post(
        self, path: str, body: bytes, headers: list[tuple[bytes, bytes]], chunks: int = 1
    ) -> Answer:
        return self.portal.call(_asgi, self.api, path, body, headers, chunks)


async def _asgi(
    api: FastAPI, path: str, body: bytes, headers: list[tuple[bytes, bytes]], chunks: int
) -> Answer:
    """One POST through the ASGI app, as a server hands it over (the body in ``chunks``)."""
    size = -(-len(body) // max(1, chunks)) or 1
    parts = [body[k : k + size] for k in range(0, len(body), size)] or [b""]
    messages = [
        {"type": "http.request", "body": p, "more_body": k < len(parts) - 1}
        for k, p in enumerate(parts)
    ]
    done = anyio.Event()
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            done.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    try:
        await api(scope, receive, send)
    finally:
        done.set()
    start = next(m for m in sent if m["type"] == "http.response.start")
    out = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    head = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in start["headers"]}
    return start["status"], head, out


def _seed(app: App, folder: Path) -> dict[str, list[Any]]:
    """A day's messages to call back about: SMS and robocalls sent by a cycle, an email (one of
    the SMS, as the same borrower's email), and a payment order waiting for its callback."""
    generate(folder, GenOptions(loans=2000, seed=13, as_of=DAY))
    ingest(app.engine, app.cipher, [folder], clock=lambda: FIXED_NOW)
    run_cycle(app, DAY, strategy=load("default"))
    box = Outbox(None)
    dispatch(
        app,
        dict.fromkeys(("sms", "push", "email", "letter", "robocall"), box),
        Options(worker="fuzz", senders=1),
    )
    ob, cp = t.outbox_message, t.contact_point
    with app.engine.begin() as conn:
        sent = conn.execute(select(ob).where(ob.c.status == "sent").order_by(ob.c.action_id)).all()
        sms = [m for m in sent if m.channel == "sms"]
        calls = [m for m in sent if m.channel == "robocall"]
        for m in sms:
            borrower = conn.execute(
                select(t.loan.c.borrower_id).where(t.loan.c.loan_id == m.loan_id)
            ).scalar_one()
            point = conn.execute(
                select(cp).where(cp.c.borrower_id == borrower, cp.c.kind == "email")
            ).first()
            if point is not None:
                to = app.cipher.decrypt("contact_point.value", point.value_enc)
                conn.execute(
                    insert(ob).values(
                        **{
                            **m._asdict(),
                            "action_id": f"{m.action_id}~email",
                            "channel": "email",
                            "provider_ref": "fuzz-email-1",
                            "subject": "fuzz",
                            "destination_enc": app.cipher.encrypt("outbox.destination", to),
                        }
                    )
                )
                break
        loans = conn.execute(select(t.loan.c.loan_id).order_by(t.loan.c.loan_id)).scalars().all()
    orders = []
    for loan in loans:
        bounds = checkout.amount_bounds(app, loan)
        if bounds.most > 0:
            orders.append(checkout.start_order(app, loan, bounds.least, "sandbox"))
            break
    assert sms and calls and orders, "the seeded store lacks messages or an order"
    return {
        "sms": [m.provider_ref for m in sms[:5]],
        "email": ["fuzz-email-1"],
        "robocall": [m.action_id for m in calls],
        "call_ids": [m.provider_ref for m in calls],
        "orders": [(o.order_id, o.amount) for o in orders],
    }


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    root = tmp_path_factory.mktemp("webhook-fuzz")
    template = root / "template.db"
    first = make_app(f"sqlite:///{template}")
    upgrade(first.engine)
    known = _seed(first, root / "gen")
    with first.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    first.engine.dispose()
    db = root / "work" / "x.db"
    db.parent.mkdir()
    shutil.copyfile(template, db)
    app = make_app(f"sqlite:///{db}")
    with start_blocking_portal() as portal:
        w = Web(
            app, create_app(app, SECRET), db, template, portal, app.settings.checkout_secret, known
        )
        yield w
    app.engine.dispose()


def stamp() -> str:
    return str(int(FIXED_NOW.timestamp()))


def signed(secret: str, body: bytes, at: str | None = None) -> list[tuple[bytes, bytes]]:
    at = at or stamp()
    return [
        (b"content-type", b"application/json"),
        (b"x-arrears-timestamp", at.encode()),
        (b"x-arrears-signature", signature(secret, at, body).encode()),
    ]


def check(
    web: Web,
    tally: Tally,
    path: str,
    body: bytes,
    headers: list[tuple[bytes, bytes]],
    chunks: int = 1,
    forged: bool = False,
) -> int:
    """Send one request on a fresh store and hold the answer to the contract."""
    web.reset()
    started = time.perf_counter()
    outcome = "crash"
    with tracebacks() as printed:
        try:
            status, head, answer = web.post(path, body, headers, chunks)
            outcome = str(status)
        finally:
            tally(outcome)
            tally.timed(time.perf_counter() - started)
    assert not printed, f"{path}: a traceback was printed: {printed[0]}"
    problem_contract(status, head, answer, f"POST {path} {body[:80]!r}")
    if forged:
        assert not 200 <= status < 300, f"{path}: a forged or stale request was carried out"
    return status


# ------------------------------------------------------------------------------------------
# bodies

SURROGATES = ["\ud800", "a\udfff", "\udbff\udfff"]
ODD_STRINGS = ["", " ", "\x00", "\u202e", "😀", "ß", "١", "DELIVRD", "delivered ", "UNDELIV",
               "a" * 129, "a" * 201, "x" * 100_000, *SURROGATES]  # fmt: skip
leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(-(10**45), 10**45),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from(ODD_STRINGS),
)
json_values = st.recursive(
    leaves,
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=10,
)  # fmt: skip


def _fields(web: Web, path: str) -> dict[str, list[Any]]:
    """Each hook's fields and their usual values (the ones that reach its deepest code)."""
    k = web.known
    name = path.rsplit("/", 1)[-1]
    if name == "sms":
        return {
            "id": k["sms"],
            "detail": ["ok", None, ""],
            "status": ["DELIVRD", "delivered", "UNDELIV", "failed", "0", "Expired", "maybe"],
        }
    if name == "email":
        return {
            "message_id": k["email"],
            "event": ["delivered", "bounced", "complained"],
            "detail": ["ok", None],
        }
    if name == "dialer":
        return {
            "reference": k["robocall"],
            "call_id": k["call_ids"],
            "status": ["answered", "no_answer", "busy", "failed", "voicemail", "ringing"],
            "digits": ["1", "2", "3", 1, 3, "4", "12", "", None],
        }
    order_id, amount = k["orders"][0]
    return {
        "order_id": [order_id, *SURROGATES],
        "status": ["paid", "failed", "created"],
        "amount": [amount, amount + 1, 0, -amount, 10**20, 2**63, float(amount), str(amount), True],
        "provider_ref": ["bank-1", "", None, "\ud800"],
    }


@st.composite
def objects(draw: Draw, web: Web, path: str) -> dict[str, Any]:
    """The hook's object: each field its usual value, anything, or missing; and maybe other
    keys."""
    obj: dict[str, Any] = {}
    for name, usual in _fields(web, path).items():
        how = draw(st.sampled_from(["usual"] * 6 + ["anything"] * 3 + ["missing"]))
        if how != "missing":
            obj[name] = draw(st.sampled_from(usual) if how == "usual" else json_values)
    for key in draw(st.lists(st.text(max_size=8), max_size=2)):
        obj[key] = draw(json_values)
    return obj


RAW = [
    b"", b" ", b"null", b"[]", b"1", b'"x"', b"{", b"{}}", b"{'a': 1}", b"NaN", b"{\"a\": NaN}",
    b'{"amount": Infinity}', b'{"amount": -Infinity}', b'{"amount": 1e999}',
    b'{"amount": ' + b"9" * 41 + b"}", b'{"amount": ' + b"9" * 5000 + b"}",
    b'{"amount": 1.' + b"0" * 5000 + b"}", b"[" * 17 + b"]" * 17, b"[" * 100_000,
    b'{"a":' * 16 + b"1" + b"}" * 16, b'{"a":' * 17 + b"1" + b"}" * 17, b"\xff\xfe{\x00}\x00",
    b"\xef\xbb\xbf{}", b'{"id": "\xff"}', b'{"id": "\\ud800", "status": "DELIVRD"}',
    b'{"id": 1, "id": "x"}', b"{}" + b" " * 1_100_000, b'{"x": "' + b"a" * 1_048_570 + b'"}',
    b"\x00", b"{}\x00",
]  # fmt: skip


def _with_raw_number(obj: dict[str, Any], key: str, token: bytes) -> bytes:
    """The object as JSON with one field's value a raw token (NaN, a 60-digit number ...)."""
    text = json.dumps({**obj, key: "\x00TOKEN\x00"}).encode()
    return text.replace(b'"\\u0000TOKEN\\u0000"', token)


@st.composite
def bodies(draw: Draw, web: Web, path: str) -> bytes:
    kind = draw(
        st.sampled_from(["object", "object", "object", "raw_token", "value", "bytes", "raw"])
    )
    if kind == "object":
        text = json.dumps(draw(objects(web, path)), ensure_ascii=draw(st.sampled_from([1, 1, 0])))
        return text.encode("utf-8", "surrogatepass")  # a lone surrogate: bytes not UTF-8
    if kind == "raw_token":
        obj = draw(objects(web, path))
        key = draw(st.sampled_from(sorted(_fields(web, path))))
        token = draw(
            st.sampled_from(
                [
                    b"NaN",
                    b"Infinity",
                    b"-Infinity",
                    b"1e400",
                    b"-0",
                    b"9" * 60,
                    b"1" + b"0" * 30,
                    b"0.1e-400",
                    b"1E+2",
                ]
            )
        )
        return _with_raw_number(obj, key, token)
    if kind == "value":
        return json.dumps(draw(json_values)).encode()
    if kind == "bytes":
        return draw(st.binary(max_size=300))
    return draw(st.sampled_from(RAW))


@pytest.mark.parametrize("path", HOOKS)
@fuzz(120)
@given(data=st.data())
def test_signed_bodies(web: Web, tally: Tally, path: str, data: st.DataObject) -> None:
    body = data.draw(bodies(web, path))
    chunks = data.draw(st.sampled_from([1, 1, 2, 7]))
    check(web, tally, path, body, signed(web.secret(path), body), chunks)


# ------------------------------------------------------------------------------------------
# hostile headers

stamps = st.one_of(
    st.builds(lambda d: str(int(FIXED_NOW.timestamp()) + d),
              st.sampled_from([0, 1, -1, 299, 300, 301, -301, 3600, -(10**6)])),
    st.sampled_from(["", " ", "0", "-1", "+1764", "1764e6", "1.5", "0x10", "١٧٦٤", "１７６４",
                     "9" * 12, "9" * 13, "9" * 5000, " 1764000000", "1764000000 ", "\x00",
                     "NaN", "inf"]),
    st.text(max_size=14),
)  # fmt: skip


HEADER_NAMES = [
    b"x-arrears-timestamp",
    b"x-arrears-signature",
    b"content-type",
    b"content-length",
    b"content-encoding",
    b"transfer-encoding",
    b"x-forwarded-for",
    b"host",
    b"cookie",
    b"authorization",
    b"x-csrf-token",
    b"x-field",
]
HEADER_VALUES = [b"application/json", b"text/plain; charset=gbk", b"gzip", b"chunked", b"0", b"1",
                 b"99999999999", b"1048577", b"-1", b"\xff" * 10]  # fmt: skip


@st.composite
def header_sets(draw: Draw, web: Web, path: str, body: bytes) -> tuple[list[Any], bool]:
    """Headers for ``body``: timestamp and signature right, wrong, odd, missing or repeated,
    and others at random; and whether the request is forged (the app must not act on it)."""
    secret = web.secret(path)
    at = draw(stamps)
    right = signature(secret, at, body)
    given = draw(
        st.one_of(
            st.sampled_from(
                [
                    right,
                    right.upper(),
                    right.removeprefix("sha256="),
                    right + " ",
                    " " + right,
                    right[:-1],
                    "sha256=",
                    "",
                    "sha1=" + right[7:],
                    signature(secret, at, body + b" "),
                    signature("", at, body),
                    signature(SECRET if secret != SECRET else "x", at, body),
                ]
            ),
            st.text(max_size=80),
            st.just("sha256=" + "0" * 100_000),
        )
    )
    heads: list[tuple[bytes, bytes]] = []
    if draw(st.booleans()):
        heads.append((b"x-arrears-timestamp", at.encode("utf-8", "surrogateescape")))
    if draw(st.booleans()):
        heads.append((b"x-arrears-signature", given.encode("utf-8", "surrogateescape")))
    for _ in range(draw(st.integers(0, 3))):  # others, or the same again
        name = draw(st.sampled_from(HEADER_NAMES))
        value = draw(
            st.one_of(
                st.binary(max_size=40),
                st.sampled_from([*HEADER_VALUES, right.encode(), stamp().encode()]),
            )
        )
        heads.insert(draw(st.integers(0, len(heads))), (name, value))
    first = {}
    for k, v in heads:
        first.setdefault(k, v)
    fresh = first.get(b"x-arrears-timestamp", b"").decode("latin-1")
    ok = (
        fresh.isascii()
        and fresh.isdigit()
        and len(fresh) <= 12
        and abs(int(fresh) - int(stamp())) <= 300
    )
    sig = first.get(b"x-arrears-signature", b"").decode("latin-1")
    forged = not ok or sig != signature(secret, fresh, body)
    return heads, forged


@pytest.mark.parametrize("path", HOOKS)
@fuzz(60)
@given(data=st.data())
def test_hostile_headers(web: Web, tally: Tally, path: str, data: st.DataObject) -> None:
    body = json.dumps(data.draw(objects(web, path))).encode()
    headers, forged = data.draw(header_sets(web, path, body))
    check(web, tally, path, body, headers, forged=forged)


# ------------------------------------------------------------------------------------------
# over real HTTP


@pytest.fixture(scope="module")
def served(web: Web) -> Iterator[str]:
    with serve_asgi(web.api) as url:
        yield url


@fuzz(40)
@given(data=st.data())
def test_signed_bodies_over_http(web: Web, served: str, tally: Tally, data: st.DataObject) -> None:
    """The same contract through uvicorn: its parsing, its chunked bodies and its errors."""
    path = data.draw(st.sampled_from(HOOKS))
    body = data.draw(bodies(web, path))
    web.reset()
    heads = {k.decode(): v.decode() for k, v in signed(web.secret(path), body)}
    chunked = data.draw(st.booleans())
    content: Any = iter([body[: len(body) // 2], body[len(body) // 2 :]]) if chunked else body
    started = time.perf_counter()
    with httpx.Client(base_url=served, timeout=30) as client:
        r = client.post(path, content=content, headers=heads)
    tally(str(r.status_code))
    tally.timed(time.perf_counter() - started)
    problem_contract(r.status_code, dict(r.headers), r.content, f"POST {path} {body[:80]!r}")


# ------------------------------------------------------------------------------------------
# the smallest inputs the fuzzers above found breaking the contract, kept as plain tests

FOUND: dict[str, tuple[str, bytes, list[tuple[bytes, bytes]]]] = {
    "dialer-status-a-list": ("/api/v1/webhooks/dialer", b'{"reference": "r", "status": []}', []),
    "dialer-reference-lone-surrogate": (
        "/api/v1/webhooks/dialer", b'{"reference": "\\ud800", "status": "busy"}', []),
    "dialer-reference-lone-surrogate-with-call-id": (
        "/api/v1/webhooks/dialer",
        b'{"reference": "\\ud800", "status": "busy", "call_id": "c1"}', []),
    "notify-order-id-lone-surrogate": (
        "/portal/pay/notify", b'{"order_id": "\\ud800", "status": "paid", "amount": 1}', []),
    "notify-body-over-1-mib": ("/portal/pay/notify", b"{}" + b" " * (1 << 20), []),
    "sms-content-length-over-1-mib": (
        "/api/v1/webhooks/sms", b"{}", [(b"content-length", b"1048577")]),
    "notify-content-length-over-1-mib": (
        "/portal/pay/notify", b"{}", [(b"content-length", b"1048577")]),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(FOUND))
def test_inputs_found_by_fuzzing(web: Web, tally: Tally, case: str) -> None:
    path, body, extra = FOUND[case]
    headers = signed(web.secret(path), body)
    check(web, tally, path, body, [*extra, *headers])
