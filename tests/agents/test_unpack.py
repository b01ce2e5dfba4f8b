"""The agent's workspace unpacking: what a tar may not do, and what it keeps."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from osci.agent.unpack import UnsafeArchive, unpack


def _tar(path: Path, members: list[tuple[str, str, str | bytes]], mode: str = "w") -> Path:
    """members: (kind, name, content or link target); kind is file, exec, dir, sym, hard, fifo."""
    with tarfile.open(path, mode) as tar:
        for kind, name, data in members:
            info = tarfile.TarInfo(name)
            payload = None
            if kind in ("file", "exec"):
                raw = data.encode() if isinstance(data, str) else data
                info.size, info.mode, payload = len(raw), 0o755 if kind == "exec" else 0o644, io.BytesIO(raw)
            elif kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
            elif kind == "sym":
                info.type, info.linkname = tarfile.SYMTYPE, str(data)
            elif kind == "hard":
                info.type, info.linkname = tarfile.LNKTYPE, str(data)
            elif kind == "fifo":
                info.type = tarfile.FIFOTYPE
            tar.addfile(info, payload)
    return path


@pytest.mark.parametrize("mode", ["w", "w:gz"], ids=["plain", "gzip"])
def test_a_workspace_comes_back_with_its_files_links_and_execute_bits(tmp_path: Path, mode: str) -> None:
    archive = _tar(
        tmp_path / "ws.tar",
        [
            ("dir", "ws", ""),
            ("dir", "ws/.git", ""),
            ("file", "ws/.git/HEAD", "ref: refs/heads/main\n"),
            ("exec", "ws/run.sh", "#!/bin/sh\necho hi\n"),
            ("file", "ws/deep/er/data.bin", b"\x00\xff" * 1000),
            ("sym", "ws/link-to-run", "run.sh"),
            ("sym", "ws/absolute-link", "/etc/hostname"),  # a repository may hold one; it is not followed
            ("hard", "ws/same-data", "ws/deep/er/data.bin"),
            ("fifo", "ws/pipe", ""),
            ("file", "outside-prefix", "not part of the workspace"),
        ],
        mode,
    )
    target = tmp_path / "out"
    assert unpack(archive, target, prefix="ws/") == 7
    assert (target / ".git" / "HEAD").read_text() == "ref: refs/heads/main\n"
    assert os.access(target / "run.sh", os.X_OK) and not os.access(target / ".git" / "HEAD", os.X_OK)
    assert (target / "deep" / "er" / "data.bin").read_bytes() == b"\x00\xff" * 1000
    assert os.readlink(target / "link-to-run") == "run.sh"
    assert os.readlink(target / "absolute-link") == "/etc/hostname"
    assert (target / "same-data").read_bytes() == b"\x00\xff" * 1000
    assert not (target / "pipe").exists() and not (tmp_path / "outside-prefix").exists()


@pytest.mark.parametrize(
    "members",
    [
        [("file", "ws/../escaped", "x")],
        [("file", "ws//tmp/escaped-absolute", "x")],
        [("sym", "ws/up", ".."), ("file", "ws/up/escaped", "x")],
        [("sym", "ws/etc", "/tmp"), ("dir", "ws/etc/sub", "")],
        [("sym", "ws/a", "."), ("sym", "ws/a/b", "..")],
        [("sym", "ws/f", "../escaped"), ("file", "ws/f", "overwrite through the link")],
        [("hard", "ws/h", "/etc/passwd")],
    ],
    ids=["dotdot", "absolute", "through-link", "dir-through-link", "link-in-link", "file-over-link", "hard-out"],
)
def test_nothing_lands_outside_the_folder(tmp_path: Path, members: list) -> None:
    archive = _tar(tmp_path / "evil.tar", members)
    target = tmp_path / "box" / "out"
    with pytest.raises(UnsafeArchive):
        unpack(archive, target, prefix="ws/")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["box", "evil.tar"]
    assert not (tmp_path / "box" / "escaped").exists()
