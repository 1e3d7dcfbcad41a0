"""Every console page and action, tried by every role that must not use it: by URL, all at once
from several threads, and each POST twice. Which roles may is read from each route's own guard,
so a page added tomorrow is tried too; a role outside it gets 403 and the store does not change.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import func, select

from arrears.bootstrap import App
from arrears.service.staff.users import ROLES, add_user
from arrears.store import tables as t
from arrears.store.db import upgrade
from arrears.web.app import create_app
from tests.conftest import make_app
from tests.support.servers import serve_asgi

PASSWORD = "correct-horse-battery"
#: a value for each path parameter: any will do, the role is refused before it is read
PARAMS = {"fmt": "csv", "measure": "calls"}


def _guarded(api: Any) -> list[tuple[str, str, tuple[str, ...]]]:
    """(method, path, roles allowed) of every console route whose guard names its roles."""
    out = []
    for route in _routes(api.routes):
        if not isinstance(route, APIRoute) or route.path.startswith("/api/"):
            continue
        for dep in route.dependant.dependencies:
            roles = getattr(dep.call, "roles", None)
            if roles is not None:
                path = re.sub(r"{(\w+)}", lambda m: PARAMS.get(m.group(1), "1"), route.path)
                out.extend((m, path, tuple(roles)) for m in sorted(route.methods))
    return out


def _routes(routes: list[Any]) -> Iterator[Any]:
    """Every route, through the routers FastAPI includes (kept as routers, not copied)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _routes(inner.routes)
        else:
            yield route


#: the console's pages open to everyone signed in (or to no one signed in): nothing else may be
OPEN = {"/", "/login", "/logout", "/lang", "/lint", "/verify", "/verify/report"}


def test_no_console_page_is_open_by_oversight() -> None:
    """A page is either for named roles or on the short list of open ones (the API and the
    portal have their own guards: tokens with scopes, borrowers' sessions)."""
    api = create_app(make_app("sqlite://"))
    open_ = set()
    for route in _routes(api.routes):
        if not isinstance(route, APIRoute) or route.path.startswith(("/portal", "/sandbox")):
            continue
        calls = [d.call for d in route.dependant.dependencies]
        if any("auth" in getattr(c, "__qualname__", "") for c in calls):
            continue  # the API's token check
        if not any(getattr(c, "roles", None) for c in calls):
            open_.add(route.path)
    assert open_ == OPEN


@pytest.fixture
def console(tmp_path: Path) -> Iterator[tuple[str, App, Any]]:
    app = make_app(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(app.engine)
    for role in ROLES:
        extra: dict[str, Any] = {}
        if role in ("collector", "field_agent"):
            extra["collector_id"] = f"C{role[:2].upper()}"
        if role == "agency":
            extra["agency"] = "tier1"
        add_user(app, username=f"u_{role}", password=PASSWORD, role=role, **extra)
    api = create_app(app)
    with serve_asgi(api) as url:
        yield url, app, api
    app.engine.dispose()


def _session(url: str, role: str) -> tuple[httpx.Client, str]:
    c = httpx.Client(base_url=url, timeout=60)
    token = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text)
    assert token is not None
    r = c.post("/login", data={"username": f"u_{role}", "password": PASSWORD, "csrf": token[1]})
    assert r.status_code == 303, (role, r.status_code)
    home = c.get(r.headers["location"], follow_redirects=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', home.text)
    assert csrf is not None, (role, home.status_code, home.text[-2000:])
    return c, csrf[1]


def _rows(app: App) -> dict[str, int]:
    with app.engine.connect() as conn:
        return {
            name: conn.execute(select(func.count()).select_from(table)).scalar_one()
            for name, table in t.metadata.tables.items()
            if name not in ("staff_session", "access_log")
        }


def test_every_page_refuses_every_role_it_is_not_for(console: tuple[str, App, Any]) -> None:
    url, app, api = console
    routes = _guarded(api)
    paths = {p for _, p, _ in routes}
    # the guard is found on the pages that matter, not on none
    assert {"/strategy", "/supervise/team.csv", "/compliance/conduct", "/approvals"} <= paths
    sessions = {role: _session(url, role) for role in ROLES if role != "admin"}
    tries = [
        (role, method, path)
        for method, path, allowed in routes
        for role in sessions
        if role not in allowed
    ]
    assert len(tries) > 50
    before = _rows(app)

    def attempt(job: tuple[str, str, str]) -> tuple[str, str, str, int, int]:
        role, method, path = job
        c, csrf = sessions[role]
        if method == "GET":
            return role, method, path, c.get(path).status_code, 403
        data = {"csrf": csrf, "confirm": "yes", "reason": "x", "queues": "early_callback"}
        first = c.post(path, data=data).status_code
        return role, method, path, first, c.post(path, data=data).status_code  # replayed

    with ThreadPoolExecutor(8) as pool:  # concurrently: many roles and pages at once
        done = list(pool.map(attempt, tries))
    wrong = [(r, m, p, a, b) for r, m, p, a, b in done if (a, b) != (403, 403)]
    assert not wrong, wrong[:20]
    assert _rows(app) == before  # nothing written by a refused request
    for c, _ in sessions.values():
        c.close()


def test_a_link_cannot_put_its_own_words_in_the_status_line(
    console: tuple[str, App, Any],
) -> None:
    """A flash of the console's own words (a signed refusal, or a known key) shows; words a
    link brings (unsigned, or signed for another session) do not."""
    from urllib.parse import quote

    from arrears.web.refusals import flash_with

    url, _, _ = console
    c, csrf = _session(url, "collector")
    other, other_csrf = _session(url, "supervisor")
    spoof = "会话已过期，请到 http://evil.example 重新登录"
    assert spoof not in c.get(f"/queue?flash={quote(spoof)}").text
    assert spoof not in c.get(flash_with("/queue", spoof, other_csrf)).text
    assert spoof in c.get(flash_with("/queue", spoof, csrf)).text
    assert "已保存" in c.get("/queue?flash=saved", headers={"Accept-Language": "zh-CN"}).text or (
        "Saved." in c.get("/queue?flash=saved").text
    )
    other.close()
    c.close()


def test_a_dry_run_of_a_version_that_is_not_there_is_not_found(
    console: tuple[str, App, Any],
) -> None:
    url, app, _ = console
    c, csrf = _session(url, "strategy_manager")
    before = _rows(app)
    for vid in ("999", "abc", "99999999999999999999", "-1"):
        for path in (f"/strategy/{vid}/diff", f"/strategy/{vid}/diff.csv"):
            r = c.get(path)
            assert r.status_code == 404, (path, r.status_code, r.text[:300])
        r = c.post(f"/strategy/{vid}/activate", data={"csrf": csrf})
        assert r.status_code == 303 and "flash=" in r.headers["location"], (vid, r.status_code)
        assert "fs=" in r.headers["location"]  # the refusal is signed: the page shows it
    assert c.get("/strategy/1/diff?page_no=x").status_code == 404  # no version 1 either
    assert _rows(app) == before
    c.close()


class _Scores:
    trained_on = {"decisions": 1234}
    margin = 250.0

    def score(self, features: Any, *, wanted: Any = None) -> dict[str, Any]:
        return {}


def test_a_dry_run_says_what_model_its_choices_were_scored_with(
    console: tuple[str, App, Any],
) -> None:
    from arrears.strategy.model import load as load_strategy

    url, app, _ = console
    c, csrf = _session(url, "strategy_manager")
    up = c.post("/strategy/upload", data={"csrf": csrf, "text": load_strategy("learned").source})
    assert up.status_code == 303, up.text[:500]
    version = re.search(r"uploaded=(\d+)", up.headers["location"])
    assert version is not None
    page = c.get(f"/strategy/{version[1]}/diff").text
    assert 'id="diff-model"' in page and "ARREARS_MODEL_FILE" in page
    app.scorer = _Scores()
    try:
        zh = c.get(f"/strategy/{version[1]}/diff", headers={"Accept-Language": "zh-CN"}).text
        en = c.get(f"/strategy/{version[1]}/diff?lang=en").text
    finally:
        app.scorer = None
    said = [p for p in (zh, en) if "1,234" in p]
    assert len(said) == 2 and all("2.50" in p and "ARREARS_MODEL_FILE" not in p for p in said)
    default = c.post(
        "/strategy/upload", data={"csrf": csrf, "text": load_strategy("default").source}
    )
    plain = re.search(r"uploaded=(\d+)", default.headers["location"])
    assert plain is not None
    assert 'id="diff-model"' not in c.get(f"/strategy/{plain[1]}/diff").text  # no choices
    c.close()


def test_the_experiments_table_names_each_arm_in_the_readers_language(tmp_path: Path) -> None:
    from arrears.bootstrap import bootstrap
    from arrears.settings import Env, Settings
    from arrears.web.console.strategy import _arm_words

    app = bootstrap(
        Settings(
            env=Env.TEST,
            database_url=f"sqlite:///{tmp_path / 's.db'}",
            strategy="champion-challenger",
        )  # fmt: skip
    )
    upgrade(app.engine)
    try:
        assert _arm_words(app, "zh-CN") == {"champion": "冠军（默认策略）",
                                            "learned": "挑战者（模型决策）"}  # fmt: skip
        assert _arm_words(app, "en")["learned"] == "Challenger (learned policy)"
    finally:
        app.engine.dispose()
    plain = make_app(f"sqlite:///{tmp_path / 'p.db'}")
    upgrade(plain.engine)
    assert _arm_words(plain, "zh-CN")["challenger"] == "挑战者（更坚决的短信）"  # the default's


def test_an_uploaded_files_problems_name_the_file(console: tuple[str, App, Any]) -> None:
    url, _, _ = console
    c, csrf = _session(url, "strategy_manager")
    bad = "strategy: x\nversion: '1'\nstages: nope\n"
    r = c.post(
        "/strategy/upload",
        data={"csrf": csrf},
        files={"file": ("../../my-strategy.yaml", bad.encode(), "application/x-yaml")},
    )
    # in the reader's language (zh-CN by default): the file, the line, the field, the fault
    assert r.status_code == 422 and "../" not in r.text
    assert "my-strategy.yaml 第 3 行，stages：应为列表，实际为 &#39;nope&#39;" in r.text
    assert "my-strategy.yaml 第 1 行，title：必填，但未填写" in r.text
    pasted = c.post(
        "/strategy/upload", data={"csrf": csrf, "text": bad}, headers={"Accept-Language": "en"}
    )
    assert pasted.status_code == 422
    assert "upload:3: stages: Input should be a valid list, got &#39;nope&#39;" in pasted.text
    c.close()
