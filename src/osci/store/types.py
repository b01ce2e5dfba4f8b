"""Column types and value helpers shared by the models and the queries."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

MAX_OUTPUT = 64 * 1024  # characters of a test's output kept in the database; the rest is in the logs
MAX_MESSAGE = 8 * 1024
MAX_NAME = 500  # test names are indexed: keep them under PostgreSQL's btree entry limit


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps stored in UTC and always returned timezone-aware (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}: {value!r}")
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()}: give a timezone (UTC)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def from_epoch(seconds: float | None) -> datetime | None:
    """osci.model keeps times as epoch floats with 0.0 meaning "not set"."""
    if not seconds:
        return None
    return datetime.fromtimestamp(seconds, UTC)


def clean_text(value: Any) -> str:
    """Text PostgreSQL accepts: NUL characters are replaced (SQLite would keep them, PostgreSQL refuses)."""
    text = "" if value is None else str(value)
    return text.replace("\x00", "\ufffd")


def clip(value: Any, limit: int) -> str:
    """Bound a text to `limit` characters: keep the start and the end, say how much was cut between."""
    text = clean_text(value)
    if len(text) <= limit:
        return text
    reserve = 64  # room for the note, which is always shorter
    head = limit // 4
    tail = max(0, limit - head - reserve)
    cut = len(text) - head - tail
    return text[:head] + f"\n... [{cut} characters cut] ...\n" + (text[-tail:] if tail else "")
