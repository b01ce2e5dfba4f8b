"""Every store test runs twice: on a SQLite file and on a fresh PostgreSQL database."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for the pgserver module
import pgserver  # noqa: E402
from osci.store import Store  # noqa: E402


@pytest.fixture(scope="session")
def pg_databases() -> Iterator[pgserver.DatabaseFactory]:
    """A PostgreSQL server for the whole session. Fails loudly unless OSCI_TEST_NO_PG=1."""
    if pgserver.pg_disabled():
        pytest.skip(f"PostgreSQL tests disabled by {pgserver.ENV_NO_PG}=1")
    with pgserver.postgres_server() as factory:
        yield factory


@pytest.fixture(scope="session")
def pg_migrated_template(pg_databases: pgserver.DatabaseFactory) -> str:
    """A migrated database that per-test databases are copied from (quicker than migrating each)."""
    url = pg_databases.create()
    store = Store(url)
    store.migrate()
    store.close()  # CREATE DATABASE ... TEMPLATE needs the template unused
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'osci.db'}"
        return
    factory: pgserver.DatabaseFactory = request.getfixturevalue("pg_databases")
    url = factory.create()
    yield url
    factory.drop(url)


@pytest.fixture
def store(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A migrated store on a fresh database."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'osci.db'}"
    else:
        factory: pgserver.DatabaseFactory = request.getfixturevalue("pg_databases")
        url = factory.create(template=request.getfixturevalue("pg_migrated_template"))
    store = Store(url)
    store.migrate()  # a no-op on the copied template, the full migration on SQLite
    yield store
    store.close()
    if backend != "sqlite":
        factory.drop(url)
