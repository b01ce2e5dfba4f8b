"""Log and artifact storage on the local disk: one folder per build, pruned by age."""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

from osci.store.errors import StoreError

_UUID = re.compile(r"[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
DAY = 86400.0


def check_uuid(uuid: str) -> str:
    """A build uuid, as osci writes them (32 hex digits, or the dashed form): nothing else can
    become a path, so "../x" or "/etc" never reach the file system."""
    if not isinstance(uuid, str) or not _UUID.fullmatch(uuid):
        raise StoreError(f"invalid build uuid {uuid!r}: expected 32 lower-case hex digits (dashes allowed)")
    return uuid


class BlobStore:
    """Build folders under ``root/builds/<uuid[:2]>/<uuid>``."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).expanduser().absolute()
        self.builds = self.root / "builds"

    def build_dir(self, uuid: str, *, create: bool = False) -> Path:
        uuid = check_uuid(uuid)
        path = self.builds / uuid[:2] / uuid
        if create:
            path.mkdir(parents=True, exist_ok=True)
        return path

    def file(self, uuid: str, relative: str) -> Path:
        """A path inside a build's folder; refuses anything that would lead outside it."""
        base = self.build_dir(uuid)
        if (
            not isinstance(relative, str)
            or not relative
            or "\x00" in relative
            or Path(relative).is_absolute()
        ):
            raise StoreError(f"invalid path {relative!r} in build {uuid}: expected a relative path")
        target = (base / relative).resolve()
        if not target.is_relative_to(base.resolve()):
            raise StoreError(f"path {relative!r} leads outside the folder of build {uuid}")
        return target

    def prune(self, older_than_days: float, now: float | None = None) -> int:
        """Remove the folders of builds not written to for `older_than_days`; return how many.

        A folder's age is that of the newest file in it, so a build still writing logs is kept."""
        if (
            isinstance(older_than_days, bool)
            or not isinstance(older_than_days, int | float)
            or older_than_days < 0
        ):
            raise StoreError(f"invalid retention {older_than_days!r}: expected a number of days >= 0")
        cutoff = (time.time() if now is None else now) - older_than_days * DAY
        removed = 0
        if not self.builds.is_dir():
            return 0
        for shard in sorted(self.builds.iterdir()):
            if shard.is_symlink() or not shard.is_dir():
                continue
            for build in sorted(shard.iterdir()):
                if build.is_symlink() or not build.is_dir() or not _UUID.fullmatch(build.name):
                    continue
                if _newest_mtime(build) < cutoff:
                    shutil.rmtree(build)
                    removed += 1
            if not any(shard.iterdir()):
                shard.rmdir()
        return removed


def _newest_mtime(folder: Path) -> float:
    newest = folder.lstat().st_mtime
    for parent, dirs, files in os.walk(folder):
        for name in dirs + files:
            try:
                newest = max(newest, os.lstat(os.path.join(parent, name)).st_mtime)
            except FileNotFoundError:
                continue
    return newest
