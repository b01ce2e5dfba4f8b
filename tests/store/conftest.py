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


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'osci.db'}"
        return
    factory: pgserver.DatabaseFactory = request.getfixturevalue("pg_databases")
    url = factory.create()
    yield url
    factory.drop(url)


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    store = Store(db_url)
    store.migrate()
    yield store
    store.close()
