"""Helpers for the executor tests (imported by the test modules)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from osci.model import BuildRecord, Step

PYTHON = sys.executable


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-c", "user.name=osci", "-c", "user.email=osci@example.org", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout.strip()


def write(path: Path, text: str, executable: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if executable:
        path.chmod(0o755)
    return path


def script(text: str) -> Step:
    return Step(script=text)


def console_text(record: BuildRecord) -> str:
    return (Path(record.build_dir) / "job-output.txt").read_text(encoding="utf-8")
