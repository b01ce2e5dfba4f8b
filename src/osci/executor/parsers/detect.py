"""Choose a result file's parser by its content (the extension is only a hint)."""

from __future__ import annotations

import re
from pathlib import Path

from osci.executor.parsers.junit_xml import parse_junit
from osci.executor.parsers.subunit_v2 import parse_subunit
from osci.executor.parsers.tap_stream import parse_tap
from osci.model import TestCase

MAX_FILE = 512 * 1024 * 1024  # bytes; bigger result files are refused
SUBUNIT_V2_SIGNATURE = 0xB3
_TAP_START = re.compile(rb"^(TAP version \d+|1\.\.\d+|ok\b|not ok\b)")
_PARSERS = {"junit": parse_junit, "subunit": parse_subunit, "tap": parse_tap}


class ParseError(Exception):
    """A result file that could not be read or parsed; the message says why."""


def detect_format(path: Path) -> str | None:
    """'subunit', 'tap', 'junit' or None when the content is none of these."""
    with open(path, "rb") as handle:
        head = handle.read(4096)
    if not head:
        return None
    if head[0] == SUBUNIT_V2_SIGNATURE:
        return "subunit"
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if text.startswith(b"<"):
        return "junit"
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith(b"#"):
            continue
        return "tap" if _TAP_START.match(stripped) else None
    return None


def parse_file(path: Path, source: str) -> list[TestCase]:
    """Parse one result file; raises ParseError with a clear message for anything wrong with it."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE:
            raise ParseError(f"{source}: {size} bytes is too big for a result file (limit {MAX_FILE})")
        kind = detect_format(path)
    except OSError as exc:
        raise ParseError(f"{source}: cannot read: {exc.strerror or exc}") from exc
    if kind is None:
        raise ParseError(f"{source}: not JUnit XML, subunit v2 or TAP (empty or unknown content)")
    try:
        return _PARSERS[kind](path, source)
    except Exception as exc:  # parsers raise many kinds of errors on broken input
        raise ParseError(f"{source}: malformed {kind} file: {type(exc).__name__}: {exc}") from exc
