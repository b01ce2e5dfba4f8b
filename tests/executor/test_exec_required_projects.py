"""A job's required projects: cloned under .osci/projects/<name> at the commit asked for, kept out
of the project's own git, and carried along when the workspace is made self-contained."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from osci.executor import workspace
from osci.executor.console import Console
from osci.executor.request import BuildRequest
from osci.model import FrozenJob


def git(cwd: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.org", "PATH": "/usr/bin:/bin"}  # fmt: skip
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout.strip()


def repo(path: Path, *files: str) -> list[str]:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    commits = []
    for name in files:
        (path / name).write_text(name + "\n")
        git(path, "add", name)
        git(path, "commit", "-q", "-m", name)
        commits.append(git(path, "rev-parse", "HEAD"))
    return commits


def test_required_projects_are_cloned_at_their_commits_and_survive_the_move(tmp_path: Path) -> None:
    (app,) = repo(tmp_path / "src" / "app", "app.txt")
    first, _second = repo(tmp_path / "src" / "org" / "lib", "one", "two")
    req = BuildRequest(
        job=FrozenJob(name="j"), build_dir=tmp_path / "build", source=tmp_path / "src" / "app", ref=app,
        projects={"org/lib": (str(tmp_path / "src" / "org" / "lib"), first)},
    )  # fmt: skip
    ws = tmp_path / "ws"
    console = Console(tmp_path / "console.txt")
    workspace.clone_all(req, ws, console)
    lib = ws / ".osci" / "projects" / "org" / "lib"
    assert git(lib, "rev-parse", "HEAD") == first
    assert (lib / "one").exists() and not (lib / "two").exists()
    assert git(ws, "status", "--porcelain") == ""  # the project's own git does not see them
    workspace.make_self_contained(ws)
    shutil.rmtree(tmp_path / "src")  # as on another machine: the sources are not there
    assert git(lib, "log", "--format=%s") == "one"
    assert git(ws, "log", "--format=%s") == "app.txt"


def test_a_required_project_name_may_not_leave_the_workspace(tmp_path: Path) -> None:
    (app,) = repo(tmp_path / "app", "a")
    req = BuildRequest(job=FrozenJob(name="j"), build_dir=tmp_path / "b", source=tmp_path / "app", ref=app,
                       projects={"../../escape": (str(tmp_path / "app"), app)})  # fmt: skip
    with pytest.raises(workspace.WorkspaceError, match="leaves the workspace"):
        workspace.clone_all(req, tmp_path / "ws", Console(tmp_path / "c.txt"))
