"""Checks on values handed to the store, with messages a user can act on."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from osci.store.errors import StoreError
from osci.store.types import utcnow


def one_of(what: str, value: str, allowed: Iterable[str]) -> str:
    allowed = tuple(allowed)
    if value not in allowed:
        raise StoreError(f"invalid {what} {value!r}: expected one of {', '.join(allowed)}")
    return value


def text_or_none(what: str, value: object) -> str | None:
    """Optional identifiers (change numbers, revisions) may come as ints: keep them as text."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise StoreError(f"invalid {what} {value!r}: expected text")
    return str(value)


def required(what: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise StoreError(f"{what} is required (got {value!r})")
    return value


def count(what: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise StoreError(f"invalid {what} {value!r}: expected a whole number from {low} to {high}")
    return value


def moment(what: str, value: datetime | None) -> datetime:
    """A timezone-aware datetime, `now` when None."""
    if value is None:
        return utcnow()
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise StoreError(f"invalid {what} {value!r}: expected a timezone-aware datetime")
    return value
