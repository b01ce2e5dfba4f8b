"""Shared fixtures for the executor tests: real directories, real git repositories, real processes."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from osci.executor import BuildRequest, run_build
from osci.model import BuildRecord, FrozenJob


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An empty project directory (not a git repository)."""
    path = tmp_path / "project"
    path.mkdir()
    return path


@pytest.fixture
def build(tmp_path: Path) -> Callable[..., BuildRecord]:
    """Run a build of `job` from `source`; keyword arguments go to BuildRequest."""
    counter = iter(range(1000))

    def run(
        job: FrozenJob,
        source: Path,
        cancel: threading.Event | None = None,
        on_output: Callable[[str], None] | None = None,
        **kwargs: object,
    ) -> BuildRecord:
        kwargs.setdefault("build_dir", tmp_path / f"build-{next(counter)}")
        kwargs.setdefault("workspace_root", tmp_path / "workspaces")
        request = BuildRequest(job=job, source=source, **kwargs)  # type: ignore[arg-type]
        return run_build(request, cancel=cancel, on_output=on_output)

    return run
