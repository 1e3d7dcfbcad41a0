"""Sign-in and per-address limits under pressure, on SQLite and PostgreSQL: concurrent wrong
passwords lock the name, every refusal answers alike (unknown, wrong, locked), unknown names
are counted too, the sign-in form's CSRF token is checked, the limits are kept in the store
(two server processes draw on one allowance) and X-Forwarded-For is believed only from a
configured proxy."""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from arrears.bootstrap import App
from arrears.service.staff.users import LOCK_AFTER, REFUSED, AuthError, add_user, authenticate
from arrears.store import tables as t
from arrears.store.db import upgrade
from arrears.web.app import create_app
from tests.conftest import make_app
from tests.support.servers import serve_asgi

PASSWORD = "correct-horse-battery"


OPENED: list[App] = []


@pytest.fixture(autouse=True)
def _dispose() -> Iterator[None]:
    yield
    while OPENED:
        OPENED.pop().engine.dispose()


def _app(url: str, user: bool = True) -> App:
    app = make_app(url)
    OPENED.append(app)
    upgrade(app.engine)
    if user:
        add_user(app, username="wei", password=PASSWORD, role="collector")
    return app


def _refusal(app: App, username: str, password: str) -> str:
    try:
        authenticate(app, username, password)
    except AuthError as exc:
        return str(exc)
    return "signed in"


def test_forty_wrong_passwords_at_once_lock_the_name(store_url: str) -> None:
    app = _app(store_url)
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda k: _refusal(app, "wei", f"wrong-{k}"), range(40)))
    assert set(answers) == {REFUSED}
    with app.engine.connect() as conn:
        hits = conn.execute(
            select(t.throttle.c.hits).where(t.throttle.c.bucket == "staff:wei")
        ).scalar_one()
    assert hits == 40  # every attempt counted, none lost to a race
    # locked: even the right password is refused, with the same answer
    assert _refusal(app, "wei", PASSWORD) == REFUSED


def test_a_refusal_reads_the_same_whatever_the_cause(store_url: str) -> None:
    app = _app(store_url)
    unknown = _refusal(app, "nobody", "whatever-it-is")
    wrong = _refusal(app, "wei", "wrong-password")
    for _ in range(LOCK_AFTER):
        _refusal(app, "wei", "wrong-password")
    locked = _refusal(app, "wei", PASSWORD)
    assert unknown == wrong == locked == REFUSED
    # unknown names are counted and locked like real ones (no way to tell them apart)
    for _ in range(LOCK_AFTER):
        _refusal(app, "ghost", "x" * 12)
    with app.engine.connect() as conn:
        hits = conn.execute(
            select(t.throttle.c.hits).where(t.throttle.c.bucket == "staff:ghost")
        ).scalar_one()
    assert hits == LOCK_AFTER


def test_a_success_clears_the_count(sqlite_url: str) -> None:
    app = _app(sqlite_url)
    for _ in range(LOCK_AFTER - 1):
        _refusal(app, "wei", "wrong-password")
    assert _refusal(app, "wei", PASSWORD) == "signed in"
    for _ in range(LOCK_AFTER - 1):
        _refusal(app, "wei", "wrong-password")
    assert _refusal(app, "wei", PASSWORD) == "signed in"  # the count started again


def _login_form(c: httpx.Client) -> str:
    page = c.get("/login")
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, "the sign-in form carries its CSRF token"
    return found.group(1)


def test_console_sign_in_checks_its_csrf_token_and_answers_alike(sqlite_url: str) -> None:
    app = _app(sqlite_url)
    with serve_asgi(create_app(app)) as url, httpx.Client(base_url=url) as c:
        token = _login_form(c)
        forged = c.post("/login", data={"username": "wei", "password": PASSWORD})
        assert forged.status_code == 403 and "arrears_session" not in forged.cookies
        other = httpx.post(
            f"{url}/login", data={"username": "wei", "password": PASSWORD, "csrf": token}
        )
        assert other.status_code == 403  # the token without its cookie: another site's form
        bodies = []
        for name, password in (("nobody", "whatever-it-is"), ("wei", "wrong-password")):
            token = _login_form(c)
            r = c.post("/login", data={"username": name, "password": password, "csrf": token})
            assert r.status_code == 401
            bodies.append(re.search(r'class="error"[^>]*>([^<]+)<', r.text).group(1))  # type: ignore[union-attr]
        for _ in range(LOCK_AFTER):
            token = _login_form(c)
            c.post("/login", data={"username": "wei", "password": "wrong", "csrf": token})
        token = _login_form(c)
        locked = c.post("/login", data={"username": "wei", "password": PASSWORD, "csrf": token})
        assert locked.status_code == 401
        bodies.append(re.search(r'class="error"[^>]*>([^<]+)<', locked.text).group(1))  # type: ignore[union-attr]
        assert len(set(bodies)) == 1 and "用户名或密码错误" in bodies[0]  # zh-CN by default
        token = _login_form(c)
        wrong_user = c.post(
            "/login", data={"username": "nobody", "password": "x" * 12, "csrf": token}
        )
        assert wrong_user.status_code == 401


def test_limits_are_shared_by_server_processes_and_ignore_forged_forwarding(
    tmp_path: Path,
) -> None:
    """Two applications on one store (two ``--workers``) draw on one allowance of /verify
    checks; a new X-Forwarded-For value from an untrusted peer buys nothing, from a configured
    proxy it names the client."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    one, two = _app(url), _app(url, user=False)
    with serve_asgi(create_app(one)) as a, serve_asgi(create_app(two)) as b:
        answers = []
        for k in range(12):
            base = a if k % 2 else b
            with httpx.Client(base_url=base) as c:
                c.get("/verify")
                token = c.cookies.get("arrears_verify")
                r = c.post(
                    "/verify",
                    data={"code": "ABCD-EFGH", "csrf": token},
                    headers={"X-Forwarded-For": f"203.0.113.{k}"},
                )
                answers.append(r.status_code)
        assert answers[:10] == [200] * 10 and answers[10:] == [429, 429]
    proxied = _app(f"sqlite:///{tmp_path / 'proxied.db'}", user=False)
    proxied.settings = proxied.settings.model_copy(update={"trusted_proxies": "127.0.0.1"})
    with serve_asgi(create_app(proxied)) as base:
        answers = []
        for k in range(12):
            with httpx.Client(base_url=base) as c:
                c.get("/verify")
                token = c.cookies.get("arrears_verify")
                r = c.post(
                    "/verify",
                    data={"code": "ABCD-EFGH", "csrf": token},
                    headers={"X-Forwarded-For": f"203.0.113.{k}, 127.0.0.1"},
                )
                answers.append(r.status_code)
        assert answers == [200] * 12  # each a different client behind the proxy


@pytest.mark.parametrize("kind", ["multipart", "urlencoded", "json"])
def test_portal_forms_check_csrf_whatever_the_content_type(tmp_path: Path, kind: str) -> None:
    from tests.integration.test_portal import PHONES, Portal, _store, sign_in
    from tests.support.clock import Clock

    clock = Clock(__import__("tests.integration.test_portal", fromlist=["NOW"]).NOW)
    app = _store(tmp_path, clock)
    with serve_asgi(create_app(app)) as url, httpx.Client(base_url=url) as c:
        p = Portal(url, app, clock, tmp_path / "outbox")
        sign_in(p, c, "L1", PHONES["L1"])
        fields = {"language": "en", "sms": "on"}
        for path in (
            "/portal/prefs",
            "/portal/loan/L1/arrange",
            "/portal/loan/L1/pay",
            "/portal/signout",
            "/portal/complaints",
        ):
            if kind == "multipart":
                r = c.post(path, files={"x": ("a.txt", b"1", "text/plain")}, data=fields)
            elif kind == "urlencoded":
                r = c.post(path, data=fields)
            else:
                r = c.post(path, json=fields)
            assert r.status_code == 403, (path, r.status_code)
        assert c.get("/portal/home").status_code == 200  # still signed in: sign-out refused


def test_a_window_of_attempts_per_key(store_url: str) -> None:
    from datetime import timedelta

    from arrears.service.throttle import hit
    from tests.conftest import FIXED_NOW
    from tests.support.clock import Clock

    app = _app(store_url, user=False)
    clock = Clock(FIXED_NOW)
    app.clock = clock
    window = timedelta(minutes=10)
    assert hit(app, "t:a", 2, window) is None and hit(app, "t:a", 2, window) is None
    assert hit(app, "t:a", 2, window) == window
    assert hit(app, "t:b", 2, window) is None  # another key, another allowance
    clock.at = FIXED_NOW + timedelta(minutes=4)
    assert hit(app, "t:a", 2, window) == timedelta(minutes=6)
    clock.at = FIXED_NOW + timedelta(minutes=10)
    assert hit(app, "t:a", 2, window) is None  # a new window


def test_an_agency_user_never_sees_the_in_house_queues(tmp_path: Path) -> None:
    from datetime import date

    from arrears.generate.portfolio import Options, generate
    from arrears.service.daily.cycle import run_cycle
    from arrears.store.ingest.loader import ingest
    from arrears.strategy.model import load
    from tests.conftest import FIXED_NOW

    app = _app(f"sqlite:///{tmp_path / 'store.db'}", user=False)
    generate(tmp_path / "gen", Options(loans=300, seed=4, as_of=date(2026, 11, 23)))
    ingest(app.engine, app.cipher, [tmp_path / "gen"], clock=lambda: FIXED_NOW)
    run_cycle(app, date(2026, 11, 23), strategy=load("default"))
    add_user(app, username="ag", password=PASSWORD, role="agency", agency="tier1")
    with serve_asgi(create_app(app)) as url, httpx.Client(base_url=url) as c:
        token = _login_form(c)
        c.post("/login", data={"username": "ag", "password": PASSWORD, "csrf": token})
        for path in ("/queue", "/queue?queue=late_calls", "/queue?queue=early_callback"):
            r = c.get(path)
            assert r.status_code == 303 and r.headers["location"] == "/agency", path
        assert "LN0000" not in c.get("/agency").text  # nothing is placed with tier1 yet
