"""Helpers for the drop-in test tests: real files, real processes, the real `osci` command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def write_test(directory: Path, name: str, body: str, executable: bool = True) -> Path:
    """Write a drop-in test file (a #!/bin/sh script unless `body` starts with #!)."""
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if not body.startswith("#!"):
        body = "#!/bin/sh\n" + body
    path.write_text(body)
    path.chmod(0o755 if executable else 0o644)
    return path


def osci_test(*args: str | Path, cwd: Path | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run `osci test ARGS` as a subprocess, output captured as text."""
    env = dict(os.environ)
    env.pop("OSCI_TREE", None)
    return subprocess.run(
        [sys.executable, "-m", "osci", "test", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())


def by_name(report: dict) -> dict[str, dict]:
    return {test["name"]: test for test in report["tests"]}


def pid_alive(pid: int) -> bool:
    """True if `pid` runs (zombies waiting for their reaper do not count)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            state = handle.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != b"Z"
