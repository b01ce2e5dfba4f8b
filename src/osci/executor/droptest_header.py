"""The `osci:` header of a drop-in test: a comment near the top, in any language.

    #!/bin/sh
    # osci: tags=fast,net requires=root,kvm timeout=30

Any comment syntax works (`#`, `//`, `--`, `;`, `%`, `/* */`, `rem`, `::`); several
header lines are merged. The file is read with one bounded read, and a file
without the text `osci:` near its top costs nothing more to parse.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

HEADER_BYTES = 4096  # the header must sit within the first 4 KiB ...
HEADER_LINES = 20  # ... and the first 20 lines

KEYS = ("tags", "requires", "timeout")

_COMMENTED = re.compile(r"""^\s*(?:\#+|//+|--+|;+|%+|/\*+|\*+|<!--|(?i:rem)\b|::|')\s*osci:(?P<body>.*)$""")
_CLOSERS = ("*/", "-->")
_NAME = re.compile(r"^[A-Za-z0-9_.+:/-]+$")
_DURATION = re.compile(r"^(?P<number>\d+(?:\.\d*)?|\.\d+)(?P<unit>ms|s|m|h)?$")
_UNIT_SECONDS = {None: 1.0, "s": 1.0, "ms": 0.001, "m": 60.0, "h": 3600.0}


class HeaderError(ValueError):
    """A header line that says something osci does not understand."""


@dataclass(frozen=True)
class Header:
    tags: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    timeout: float | None = None


EMPTY = Header()


def read_header(path: str) -> Header:
    """Read and parse the header of the file at `path` (one bounded read)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        data = os.read(fd, HEADER_BYTES)
    finally:
        os.close(fd)
    if b"osci:" not in data:
        return EMPTY
    return parse_header(data.decode("utf-8", errors="replace"))


def parse_header(text: str) -> Header:
    """Parse the `osci:` lines among the first HEADER_LINES lines of `text`."""
    tags: list[str] = []
    requires: list[str] = []
    timeout: float | None = None
    for number, line in enumerate(text.splitlines()[:HEADER_LINES], start=1):
        match = _COMMENTED.match(line)
        if match is None:
            continue
        body = match.group("body").strip()
        for closer in _CLOSERS:
            if body.endswith(closer):
                body = body[: -len(closer)].rstrip()
        for token in body.split():
            key, sep, value = token.partition("=")
            key = key.lower()
            if not sep:
                raise HeaderError(f"line {number}: expected key=value, got {token!r}")
            if key == "tags":
                tags.extend(_names(value, key, number))
            elif key == "requires":
                requires.extend(_names(value, key, number))
            elif key == "timeout":
                timeout = parse_duration(value, where=f"line {number}: timeout")
            else:
                raise HeaderError(f"line {number}: unknown key {key!r} (expected one of {', '.join(KEYS)})")
    return Header(tuple(dict.fromkeys(tags)), tuple(dict.fromkeys(requires)), timeout)


def parse_duration(value: str, where: str = "timeout") -> float:
    """`30`, `2.5`, `500ms`, `30s`, `5m`, `1h` -> seconds (must be above zero)."""
    match = _DURATION.match(value.strip().lower())
    if match is None:
        raise HeaderError(f"{where}: expected a number of seconds such as 30, 90s, 5m or 1h, got {value!r}")
    seconds = float(match.group("number")) * _UNIT_SECONDS[match.group("unit")]
    if seconds <= 0:
        raise HeaderError(f"{where}: must be above zero, got {value!r}")
    return seconds


def _names(value: str, key: str, number: int) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    if not names:
        raise HeaderError(f"line {number}: {key}= needs at least one name")
    for name in names:
        if not _NAME.match(name):
            raise HeaderError(f"line {number}: {key}: bad name {name!r} (letters, digits and _.+:/- only)")
    return names
