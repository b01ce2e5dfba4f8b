"""Checks on path and query values, before they reach the store."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Query

from osci.store.builds import MAX_PAGE
from osci.web.errors import ApiError

_IDENT = re.compile(r"[A-Za-z0-9_.-]{1,64}")

Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"at most {MAX_PAGE}")]
Skip = Annotated[int, Query(ge=0, le=2**31)]
Filter = Annotated[str | None, Query(max_length=255)]
Search = Annotated[str | None, Query(max_length=100, description="a case-insensitive substring")]
Days = Annotated[int, Query(ge=1, le=365, description="the window: this many days up to today (UTC)")]


def ident(what: str, value: str) -> str:
    """A uuid in a path: anything else cannot name a record, so it is a 404 (not a query)."""
    if not _IDENT.fullmatch(value):
        raise ApiError(404, f"no {what} {value[:80]!r}")
    return value


def text(what: str, value: str | None) -> str | None:
    """A filter value: control characters (NUL among them) are refused, PostgreSQL would choke."""
    if value is not None and any(ord(char) < 32 for char in value):
        raise ApiError(400, f"invalid {what}: control characters are not allowed")
    return value
