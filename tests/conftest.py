"""Fixtures shared by the suites: settings, stores on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from arrears.bootstrap import App, bootstrap
from arrears.settings import Env, Settings
from arrears.store.db import upgrade
from tests.support.pg import PgServer

FIXED_NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    given = os.environ.get("ARREARS_TEST_PG_URL")
    if given:
        yield given
        return
    server = PgServer()
    try:
        yield server.start()
    finally:
        server.stop()


def _pg_database(admin_url: str) -> str:
    name = "t_" + uuid.uuid4().hex[:12]
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return admin_url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL to an empty database: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'arrears.db'}"
    return _pg_database(request.getfixturevalue("pg_admin_url"))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'arrears.db'}"


#: the applications :func:`make_app` made during the running test
_MADE: list[App] = []


def make_app(url: str) -> App:
    settings = Settings(env=Env.TEST, database_url=url)
    made = bootstrap(settings, clock=lambda: FIXED_NOW)
    _MADE.append(made)
    return made


@pytest.fixture(autouse=True)
def _engines_closed() -> Iterator[None]:
    """Every engine a test made is disposed when it ends, passed or failed: its pooled
    connections are closed then, not left to the collector (whose warnings would land in a
    later test)."""
    yield
    while _MADE:
        _MADE.pop().engine.dispose()


@pytest.fixture
def app(store_url: str) -> Iterator[App]:
    a = make_app(store_url)
    upgrade(a.engine)
    yield a
    a.engine.dispose()


#: a factory fixture's product: a store holding a planned generated portfolio
PlanBook = Callable[..., App]


@pytest.fixture
def plan_book(app: App, tmp_path: Path) -> PlanBook:
    """A factory: ``plan_book(loans, seed, day, clock=None)`` generates a portfolio of ``loans``
    (``seed``) due around ``day``, ingests it into the store at FIXED_NOW, gives the app
    ``clock`` when one is named, and runs the default strategy's cycle for ``day``."""
    from arrears.generate.portfolio import Options, generate
    from arrears.service.daily.cycle import run_cycle
    from arrears.store.ingest.loader import ingest
    from arrears.strategy.model import load

    def make(loans: int, seed: int, day: date, clock: Callable[[], datetime] | None = None) -> App:
        generate(tmp_path / "gen", Options(loans=loans, seed=seed, as_of=day))
        ingest(app.engine, app.cipher, [tmp_path / "gen"], clock=lambda: FIXED_NOW)
        if clock is not None:
            app.clock = clock
        run_cycle(app, day, strategy=load("default"))
        return app

    return make
