from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from osci.store import Store
from osci.store.migrate import head_revision
from osci.store.models import Base

EXPECTED_TABLES = {
    "alembic_version",
    "artifacts",
    "attempts",
    "autoholds",
    "buildsets",
    "build_daily",
    "builds",
    "config_loads",
    "culprit_builds",
    "culprit_searches",
    "events",
    "items",
    "metrics",
    "node_events",
    "nodes",
    "promotions",
    "reports",
    "test_daily",
    "test_results",
    "tokens",
}


def test_migrated_schema_equals_the_models(db_url: str) -> None:
    store = Store(db_url)
    assert store.schema_revision() is None
    assert store.needs_migration()
    store.migrate()
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    assert set(store.table_names()) == EXPECTED_TABLES
    assert store.schema_revision() == head_revision()
    assert not store.needs_migration()
    store.close()


def test_migrate_twice_is_harmless(store: Store) -> None:
    store.migrate()
    assert store.schema_revision() == head_revision()


def test_dashboard_indexes_exist(store: Store) -> None:
    from sqlalchemy import inspect

    inspector = inspect(store.engine)

    def indexed(table: str) -> set[tuple[str, ...]]:
        return {tuple(index["column_names"]) for index in inspector.get_indexes(table)}

    builds = indexed("builds")
    for columns in [
        ("job", "end_time"),
        ("project", "end_time"),
        ("pipeline", "end_time"),
        ("result",),
        ("change",),
    ]:
        assert columns in builds
    assert {("name", "build_id"), ("build_id",)} <= indexed("test_results")
    assert ("processed_at",) in indexed("events")
    assert ("state",) in indexed("items")
    assert ("state", "next_try_at") in indexed("reports")


def test_revision_helper_explains_its_usage(capsys) -> None:
    from osci.store.migrate import main

    assert main([]) == 2
    assert "usage: python -m osci.store.migrate revision" in capsys.readouterr().err


def test_downgrade_to_nothing_and_back(db_url: str) -> None:
    from alembic import command

    from osci.store.migrate import alembic_config

    with Store(db_url) as store:
        store.migrate()
        command.downgrade(alembic_config(store.engine), "base")
        assert set(store.table_names()) <= {"alembic_version"}
        assert store.schema_revision() is None
        store.migrate()
        assert set(store.table_names()) == EXPECTED_TABLES
