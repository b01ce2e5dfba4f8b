"""Find drop-in tests: every executable file under the given paths, in a stable order."""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass

from osci.executor.droptest_header import EMPTY, Header, HeaderError, read_header

_EXEC_BITS = stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH


class DiscoveryError(ValueError):
    """A path the user gave cannot be used (missing, not executable, unreadable)."""


@dataclass(frozen=True)
class DropTest:
    name: str  # the path as shown to the user, e.g. tests/net/ping.sh
    path: str  # absolute path
    header: Header = EMPTY
    header_error: str = ""  # why the header could not be read; such a test fails without running


def discover(paths: Sequence[str]) -> list[DropTest]:
    """Every executable, non-hidden file under `paths` (a path may be a file), sorted by name."""
    found: dict[str, str] = {}  # real path -> display name; a file named twice runs once
    for given in paths:
        for name in sorted(_walk_given(given)):
            found.setdefault(os.path.realpath(name), name)
    tests = [_load(name) for name in found.values()]
    tests.sort(key=lambda test: test.name)
    return tests


def _walk_given(given: str) -> list[str]:
    if not os.path.exists(given):
        raise DiscoveryError(f"no such file or directory: {given}")
    if os.path.isdir(given):
        names: list[str] = []
        _walk(os.path.normpath(given), names)
        return names
    if not _is_executable_file(given):
        raise DiscoveryError(f"not an executable file: {given} (make it executable with chmod +x)")
    return [os.path.normpath(given)]


def _walk(directory: str, out: list[str]) -> None:
    try:
        with os.scandir(directory) as entries:
            items = list(entries)
    except OSError as exc:
        raise DiscoveryError(f"cannot read directory {directory}: {exc.strerror}") from None
    for entry in items:
        if entry.name.startswith(".") or entry.name == "__pycache__":
            continue
        try:
            # Symlinked folders are not followed (they may loop); symlinked files are tests.
            if entry.is_dir(follow_symlinks=False):
                _walk(_join(directory, entry.name), out)
            elif entry.is_file() and entry.stat().st_mode & _EXEC_BITS:
                out.append(_join(directory, entry.name))
        except OSError:
            continue  # vanished or a dangling symlink: not a test


def _join(directory: str, name: str) -> str:
    return name if directory == "." else os.path.join(directory, name)


def _is_executable_file(path: str) -> bool:
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return stat.S_ISREG(mode) and bool(mode & _EXEC_BITS)


def _load(name: str) -> DropTest:
    path = os.path.abspath(name)
    try:
        return DropTest(name, path, read_header(path))
    except HeaderError as exc:
        return DropTest(name, path, header_error=f"bad osci header: {exc}")
    except OSError as exc:
        return DropTest(name, path, header_error=f"cannot read the test file: {exc.strerror}")
