"""One request never stops the service: a strategy upload that is a YAML alias bomb, conditions
nested thousands deep, numbers of thousands of digits and bad escapes are refused with the
file, line and field (422, never 500) while other users are served; request bodies are limited
as they stream, so a chunked body without Content-Length is cut off early, not read whole."""

from __future__ import annotations

import re
import select
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from arrears.bootstrap import App
from arrears.service.staff.users import add_user
from arrears.store.db import upgrade
from arrears.web.app import MAX_BODY, create_app
from tests.conftest import make_app
from tests.support.servers import serve_asgi
from tests.unit.strategy.test_model import BOMB, GOOD

PASSWORD = "correct-horse-battery"


@pytest.fixture
def console(tmp_path: Path) -> Iterator[tuple[str, App]]:
    app = make_app(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(app.engine)
    add_user(app, username="mei", password=PASSWORD, role="strategy_manager")
    with serve_asgi(create_app(app)) as url:
        yield url, app
    app.engine.dispose()


def _signed_in(url: str) -> tuple[httpx.Client, str]:
    # in English: a strategy's problems then read as the checker wrote them (the zh-CN words
    # are tests/unit/test_strategy_problem_words.py's)
    c = httpx.Client(base_url=url, timeout=60, headers={"Accept-Language": "en"})
    token = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text).group(1)  # type: ignore[union-attr]
    r = c.post("/login", data={"username": "mei", "password": PASSWORD, "csrf": token})
    assert r.status_code == 303
    page = c.get("/strategy").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    return c, csrf


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (BOMB, "more than"),
        (
            GOOD.replace('"score < 0.3"', "'" + "(" * 60 + "dpd > 1" + ")" * 60 + "'"),
            "upload:8: segments[0].when: brackets nested deeper",
        ),
        (GOOD.replace('"score < 0.3"', "'dpd > " + "9" * 3000 + "'"), "more than 30 digits"),
        (GOOD.replace('"score < 0.3"', """'product == "\\q"'"""), "unknown escape"),
        ("strategy: " + "9" * 5000, "(limits)"),
        ("a: " + "[" * 20000 + "]" * 20000, "nesting deeper"),
    ],
)
def test_hostile_strategy_uploads_are_refused_while_others_are_served(
    console: tuple[str, App], text: str, expected: str
) -> None:
    url, _ = console
    c, csrf = _signed_in(url)
    others: list[int] = []
    stop = threading.Event()

    def other_user() -> None:  # someone else keeps using the console meanwhile
        with httpx.Client(base_url=url, timeout=30) as o:
            while not stop.is_set():
                others.append(o.get("/login").status_code)
                time.sleep(0.01)

    watcher = threading.Thread(target=other_user)
    watcher.start()
    while not others:
        time.sleep(0.01)
    try:
        r = c.post("/strategy/upload", data={"csrf": csrf, "text": text})
    finally:
        stop.set()
        watcher.join()
    assert r.status_code == 422, r.text[:300]
    assert "upload" in r.text and expected in r.text
    assert set(others) == {200}
    c.close()


def test_a_chunked_body_is_cut_off_as_it_streams(console: tuple[str, App]) -> None:
    """Up to 300 MB offered in chunks with no Content-Length, over a raw socket that watches
    for the answer between chunks: the server answers 413 once the limit is passed, long
    before the body ends (it never reads it whole)."""
    url, _ = console
    host, port = url.removeprefix("http://").split(":")
    chunk = b"x" * (64 * 1024)
    sent, answer = 0, b""
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(
            b"POST /verify HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n\r\n"
        )
        while sent < 300 * 1024 * 1024:
            ready, _, _ = select.select([sock], [], [], 0)
            if ready:
                answer = sock.recv(4096)
                break
            try:
                sock.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
            except (BrokenPipeError, ConnectionResetError):
                answer = sock.recv(4096)
                break
            sent += len(chunk)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:60]
    assert sent < 8 * MAX_BODY  # answered near the limit, far from 300 MB


@pytest.mark.parametrize(
    ("path", "kind", "body"),
    [
        ("/login?next=a%00b", "application/x-www-form-urlencoded", b"username=x&password=y"),
        ("/login", "application/x-www-form-urlencoded", b"username=a%00b&password=yyyyyyyyyy"),
        ("/portal/code", "application/x-www-form-urlencoded", b"ref=L1%00&csrf=x"),
        ("/api/v1/payments", "application/json", b'{"loan_id": "L1\\u0000", "amount": 1}'),
        ("/verify", "application/x-www-form-urlencoded", b"code=AB%0012"),
    ],
)
def test_a_nul_never_reaches_the_store(
    console: tuple[str, App], path: str, kind: str, body: bytes
) -> None:
    """PostgreSQL cannot hold NUL in text: a query string or a form or JSON body carrying one
    is refused with 422, whatever the page."""
    url, _ = console
    r = httpx.post(f"{url}{path}", content=body, headers={"Content-Type": kind}, timeout=30)
    assert r.status_code == 422, (path, r.status_code, r.text[:200])


def test_multipart_fields_hold_no_nul_and_every_answer_says_nosniff(
    console: tuple[str, App],
) -> None:
    url, _ = console
    c, csrf = _signed_in(url)
    r = c.post(
        "/strategy/upload",
        data={"csrf": csrf, "text": "strategy: a\x00b"},
        files={"file": ("s.yaml", b"", "application/x-yaml")},
    )
    assert r.status_code == 422 and "text" in r.text
    for path in ("/login", "/static/console.css", "/strategy", "/api/v1/loans"):
        assert c.get(path).headers.get("X-Content-Type-Options") == "nosniff", path
    big = c.post(
        "/api/v1/payments",
        content=b"{" + b" " * (2 * MAX_BODY) + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert big.status_code == 413
    assert big.headers["content-type"] == "application/problem+json"
    c.close()
