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
    found: dict[tuple[int, int], tuple[str, str]] = {}  # (device, inode) -> (name, absolute path)
    for given in paths:
        # Sorted first, so that of two names for one file (a symlink, a path given twice) the first stays.
        for name, path, key in sorted(_walk_given(given)):
            found.setdefault(key, (name, path))
    tests = [_load(name, path) for name, path in found.values()]
    tests.sort(key=lambda test: test.name)
    return tests


_Found = tuple[str, str, tuple[int, int]]  # display name, absolute path, (device, inode)


def _walk_given(given: str) -> list[_Found]:
    try:
        info = os.stat(given)
    except OSError:
        raise DiscoveryError(f"no such file or directory: {given}") from None
    name = os.path.normpath(given)
    if stat.S_ISDIR(info.st_mode):
        out: list[_Found] = []
        _walk(name, os.path.abspath(name), out)
        return out
    if not stat.S_ISREG(info.st_mode) or not info.st_mode & _EXEC_BITS:
        raise DiscoveryError(f"not an executable file: {given} (make it executable with chmod +x)")
    return [(name, os.path.abspath(name), (info.st_dev, info.st_ino))]


def _walk(directory: str, absolute: str, out: list[_Found]) -> None:
    try:
        with os.scandir(directory) as entries:
            items = list(entries)
    except OSError as exc:
        raise DiscoveryError(f"cannot read directory {directory}: {exc.strerror}") from None
    prefix = "" if directory == "." else directory.rstrip(os.sep) + os.sep
    for entry in items:
        if entry.name.startswith(".") or entry.name == "__pycache__":
            continue
        try:
            # Symlinked folders are not followed (they may loop); symlinked files are tests.
            if entry.is_dir(follow_symlinks=False):
                _walk(prefix + entry.name, os.path.join(absolute, entry.name), out)
            elif entry.is_file():
                info = entry.stat()
                if info.st_mode & _EXEC_BITS:
                    key = (info.st_dev, info.st_ino)
                    out.append((prefix + entry.name, os.path.join(absolute, entry.name), key))
        except OSError:
            continue  # vanished or a dangling symlink: not a test


def _load(name: str, path: str) -> DropTest:
    try:
        return DropTest(name, path, read_header(path))
    except HeaderError as exc:
        return DropTest(name, path, header_error=f"bad osci header: {exc}")
    except OSError as exc:
        return DropTest(name, path, header_error=f"cannot read the test file: {exc.strerror}")
