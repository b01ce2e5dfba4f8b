"""`osci quickstart --once`: the README's main job, end to end."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .conftest import free_port


def test_quickstart_builds_three_commits_and_exits(tmp_path: Path):
    folder = tmp_path / "qs"
    done = subprocess.run(
        [sys.executable, "-m", "osci", "quickstart", str(folder), "--once", "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=240,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    rows = [line.split() for line in done.stdout.splitlines() if "unit-tests" in line]
    assert [row[2] for row in rows] == ["SUCCESS", "FAILURE", "RETRY_LIMIT"], done.stdout
    assert "1 passed, 1 failed" in done.stdout
    assert "admin token" in done.stderr
    assert (folder / "osci.yaml").exists() and (folder / "work" / "example" / ".osci.yaml").exists()


def test_quickstart_refuses_to_overwrite(tmp_path: Path):
    folder = tmp_path / "qs"
    (folder / "repos" / "example.git").mkdir(parents=True)
    done = subprocess.run(
        [sys.executable, "-m", "osci", "quickstart", str(folder), "--once", "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "already holds a quickstart" in done.stderr
