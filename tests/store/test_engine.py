from pathlib import Path

import pytest
from sqlalchemy import text

from osci.store import Store, StoreError


@pytest.mark.parametrize(
    "url, message",
    [
        ("", "empty database URL"),
        ("mysql://u@h/db", "unsupported database 'mysql'"),
        ("sqlite://", "in-memory"),
        ("sqlite:///:memory:", "in-memory"),
        ("postgresql+nosuchdriver://u@h/db", "no driver"),
        ("sqlite:////no/such/folder/osci.db", "no folder"),
    ],
)
def test_bad_urls_get_clear_errors(url: str, message: str) -> None:
    with pytest.raises(StoreError, match=message):
        Store(url)


def test_unreachable_database_is_a_store_error(tmp_path: Path) -> None:
    store = Store("postgresql://nobody@127.0.0.1:1/osci")
    with pytest.raises(StoreError, match="database error"):
        store.migrate()


def test_a_plain_path_is_a_sqlite_file(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "osci.db"))
    store.migrate()
    assert store.dialect == "sqlite"
    assert (tmp_path / "osci.db").is_file()
    store.close()


def test_sqlite_connections_get_wal_foreign_keys_and_busy_timeout(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'osci.db'}")
    for _ in range(2):  # every pooled connection, not only the first
        with store.engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert connection.execute(text("PRAGMA busy_timeout")).scalar() >= 5000
    store.close()


def test_foreign_keys_are_enforced(store: Store) -> None:
    from osci.store import NotFound

    with pytest.raises(NotFound):
        store.create_item("check", "p", event_id=12345)
    # bypassing the store's own check: the database refuses
    with pytest.raises(StoreError), store._write() as session:
        session.execute(text("INSERT INTO metrics (build_id, name, value, unit) VALUES (999, 'x', 1, '')"))
