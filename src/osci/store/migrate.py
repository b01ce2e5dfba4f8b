"""Alembic, driven from code: the migrations ship inside the package, no alembic.ini is needed.

To add a migration after changing ``models.py`` (developers only)::

    python -m osci.store.migrate revision "add builds.foo" /tmp/scratch.db

autogenerates ``migrations/versions/NNNN_<message>.py`` against a scratch SQLite database
migrated to the current head; review it (and prefer plain ``sa.`` types) before committing.
"""

from __future__ import annotations

import sys
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(engine: Engine | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if engine is not None:
        config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database to `revision`, in one transaction."""
    command.upgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def new_revision(message: str, scratch_db: str) -> None:
    """Autogenerate the next numbered revision from the difference between models and head."""
    from osci.store.engine import make_engine

    engine = make_engine(scratch_db)
    upgrade(engine)
    head = head_revision()
    number = f"{int(head or 0) + 1:04d}"
    config = alembic_config(engine)
    config.attributes["render_as_batch"] = True  # SQLite needs batch mode for ALTER TABLE
    command.revision(config, message=message, autogenerate=True, rev_id=number)
    engine.dispose()


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] != "revision":
        print("usage: python -m osci.store.migrate revision MESSAGE SCRATCH_SQLITE_FILE", file=sys.stderr)
        return 2
    new_revision(argv[1], argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
