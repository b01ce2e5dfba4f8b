"""Alembic environment for osci: the engine comes from the caller (osci.store.migrate), never a file."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from osci.store.engine import WRITE_OPTION
from osci.store.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    if engine is None:  # the alembic command line, for developers: alembic -x url=sqlite:///osci.db
        url = context.get_x_argument(as_dictionary=True).get("url")
        if not url:
            raise SystemExit("give the database: alembic -x url=sqlite:///path/to/osci.db ...")
        engine = create_engine(url)
    with engine.connect().execution_options(**{WRITE_OPTION: True}) as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=config.attributes.get("render_as_batch", connection.dialect.name == "sqlite"),
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("osci migrations run online only")
run_migrations_online()
