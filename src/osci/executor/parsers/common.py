"""Helpers shared by the result parsers."""

from __future__ import annotations

MAX_OUTPUT = 64 * 1024  # characters kept per test case's output or message


def bounded(text: str | None, limit: int = MAX_OUTPUT) -> str:
    """`text` cut to `limit` characters, keeping the end (where tracebacks say what went wrong)."""
    if not text:
        return ""
    if len(text) <= limit:
        return text
    dropped = len(text) - limit
    return f"[osci: {dropped} characters cut]\n" + text[-limit:]


def split_id(test_id: str, separator: str = ".") -> tuple[str, str]:
    """(classname, name) of a dotted test id, ignoring separators inside a trailing `[...]`."""
    base = test_id.split("[", 1)[0]
    classname, _, name = base.rpartition(separator)
    return classname, name + test_id[len(base) :]
