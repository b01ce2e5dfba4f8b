"""The store's engine, sessions and transactions; the query mixins build on this."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from sqlalchemy import Engine, inspect
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from osci.store.engine import WRITE_OPTION, make_engine, parse_url
from osci.store.errors import StoreError


class StoreBase:
    """Thread-safe: every method opens its own short session; returned rows are detached copies
    whose column attributes stay readable (``expire_on_commit=False``)."""

    def __init__(self, url: str) -> None:
        self.url = parse_url(url).render_as_string(hide_password=True)
        self.engine: Engine = make_engine(url)
        self._reader = sessionmaker(self.engine, expire_on_commit=False)
        self._writer = sessionmaker(
            self.engine.execution_options(**{WRITE_OPTION: True}), expire_on_commit=False
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def _read(self) -> Iterator[Session]:
        with self._translate_errors(), self._reader() as session, session.begin():
            yield session

    @contextmanager
    def _write(self) -> Iterator[Session]:
        with self._translate_errors(), self._writer() as session, session.begin():
            yield session

    def read_session(self) -> AbstractContextManager[Session]:
        """A short read transaction, for query modules that extend the store."""
        return self._read()

    def write_session(self) -> AbstractContextManager[Session]:
        """A short write transaction (takes SQLite's write lock at once), committed on exit."""
        return self._write()

    @contextmanager
    def _translate_errors(self) -> Iterator[None]:
        try:
            yield
        except IntegrityError as exc:
            raise StoreError(f"refused by the database ({self.dialect}): {exc.orig}") from exc
        except DBAPIError as exc:
            raise StoreError(f"database error on {self.url}: {exc.orig}") from exc
        except SQLAlchemyError as exc:
            raise StoreError(f"database error on {self.url}: {exc}") from exc

    def migrate(self) -> None:
        """Create or upgrade the schema to the newest revision shipped with osci."""
        from osci.store import migrate  # imported late: `python -m osci.store.migrate` stays clean

        with self._translate_errors():
            migrate.upgrade(self.engine)

    def schema_revision(self) -> str | None:
        """The migration the database is at (None for an empty database)."""
        from osci.store import migrate

        with self._translate_errors():
            return migrate.current_revision(self.engine)

    def needs_migration(self) -> bool:
        from osci.store import migrate

        return self.schema_revision() != migrate.head_revision()

    def table_names(self) -> list[str]:
        with self._translate_errors():
            return sorted(inspect(self.engine).get_table_names())

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> StoreBase:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
