import os
from pathlib import Path

import pytest

from osci.store import BlobStore, StoreError

UUID = "0123456789abcdef0123456789abcdef"
DAY = 86400


def test_build_dirs_are_sharded_by_uuid(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path)
    path = blobs.build_dir(UUID)
    assert path == tmp_path / "builds" / "01" / UUID and not path.exists()
    assert blobs.build_dir(UUID, create=True).is_dir()
    dashed = "01234567-89ab-cdef-0123-456789abcdef"
    assert blobs.build_dir(dashed).name == dashed


@pytest.mark.parametrize(
    "bad", ["../../etc", "/etc/passwd", "", "ABCDEF0123456789ABCDEF0123456789", UUID + "/..", "..", None]
)
def test_bad_uuids_are_refused(tmp_path: Path, bad) -> None:
    with pytest.raises(StoreError, match="invalid build uuid"):
        BlobStore(tmp_path).build_dir(bad)


def test_files_inside_a_build_only(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path)
    base = blobs.build_dir(UUID, create=True)
    assert blobs.file(UUID, "logs/console.log") == base.resolve() / "logs" / "console.log"
    for bad in ["../other", "logs/../../x", "/etc/passwd", "", "a\x00b"]:
        with pytest.raises(StoreError):
            blobs.file(UUID, bad)
    (base / "escape").symlink_to("/etc")
    with pytest.raises(StoreError, match="outside"):
        blobs.file(UUID, "escape/passwd")


def _age(path: Path, seconds_ago: float, now: float) -> None:
    for parent, dirs, files in os.walk(path):
        for name in [*dirs, *files]:
            os.utime(os.path.join(parent, name), (now - seconds_ago, now - seconds_ago))
    os.utime(path, (now - seconds_ago, now - seconds_ago))


def test_prune_removes_old_builds_only(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path)
    now = 2_000_000_000.0
    old, recent, busy = "a" * 32, "b" * 32, "c" * 32
    for uuid in (old, recent, busy):
        d = blobs.build_dir(uuid, create=True)
        (d / "logs").mkdir()
        (d / "logs" / "console.log").write_text("log")
    _age(blobs.build_dir(old), 40 * DAY, now)
    _age(blobs.build_dir(recent), 5 * DAY, now)
    _age(blobs.build_dir(busy), 40 * DAY, now)
    os.utime(blobs.build_dir(busy) / "logs" / "console.log", (now, now))  # still being written
    (tmp_path / "builds" / "zz").mkdir()
    (tmp_path / "builds" / "zz" / "not-a-build").mkdir()
    os.utime(tmp_path / "builds" / "zz" / "not-a-build", (0, 0))

    assert blobs.prune(30, now=now) == 1
    assert not blobs.build_dir(old).exists() and not (tmp_path / "builds" / "aa").exists()
    assert blobs.build_dir(recent).exists() and blobs.build_dir(busy).exists()
    assert (tmp_path / "builds" / "zz" / "not-a-build").exists()
    assert blobs.prune(30, now=now) == 0
    with pytest.raises(StoreError, match="invalid retention"):
        blobs.prune(-1)


def test_prune_on_an_empty_root(tmp_path: Path) -> None:
    assert BlobStore(tmp_path / "nothing").prune(1) == 0
