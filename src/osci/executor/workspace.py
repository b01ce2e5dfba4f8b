"""Fresh workspaces: a git clone checked out at a ref, or a copy of a working directory."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from osci.executor.console import Console

GIT_TIMEOUT = 3600.0
SKIP_NAMES = {".osci-builds"}
FULL_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


class WorkspaceError(Exception):
    """The workspace could not be prepared: an infrastructure problem (ERROR), never the change's fault."""


def _git(args: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0", LC_ALL="C")
    try:
        return subprocess.run(
            ["git", *args],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=GIT_TIMEOUT,
        )
    except FileNotFoundError as exc:
        raise WorkspaceError("git is not installed") from exc
    except subprocess.TimeoutExpired as exc:
        raise WorkspaceError(f"git {args[0]} did not finish within {GIT_TIMEOUT:.0f} s") from exc


def is_git_repository(path: Path) -> bool:
    """A work tree (with `.git`) or a bare repository, told apart the way git itself does,
    without running git (a busy server prepares many workspaces a second)."""
    if not path.is_dir():
        return False
    if (path / ".git").exists():
        return True
    return (path / "HEAD").is_file() and (path / "objects").is_dir() and (path / "refs").is_dir()


def _resolve(workspace: Path, ref: str) -> str | None:
    for candidate in (ref, f"origin/{ref}"):
        result = _git(["rev-parse", "--verify", "--quiet", f"{candidate}^{{commit}}"], cwd=workspace)
        if result.returncode == 0:
            return result.stdout.strip()
    fetched = _git(["fetch", "--quiet", "origin", ref], cwd=workspace)  # e.g. refs/changes/...
    if fetched.returncode == 0:
        result = _git(["rev-parse", "--verify", "--quiet", "FETCH_HEAD^{commit}"], cwd=workspace)
        if result.returncode == 0:
            return result.stdout.strip()
    return None


def clone(source: Path, ref: str, workspace: Path, branch: str | None, console: Console) -> str:
    """Clone `source` into the empty `workspace` and check out `ref`; returns the commit sha."""
    if not is_git_repository(source):
        raise WorkspaceError(f"source {source} is not a git repository, but ref {ref!r} was asked for")
    # --template= : no sample hooks and such, fewer files to write now and delete afterwards
    result = _git(
        ["clone", "--quiet", "--shared", "--no-checkout", "--template=", str(source), str(workspace)]
    )
    if result.returncode != 0:
        raise WorkspaceError(f"git clone of {source} failed: {result.stderr.strip()}")
    # A full sha (what the server asks for) needs no resolving; anything else does.
    sha = ref if FULL_SHA.fullmatch(ref) else _resolve(workspace, ref)
    if sha is None:
        raise WorkspaceError(f"ref {ref!r} not found in {source}")

    def checkout(commit: str) -> subprocess.CompletedProcess[str]:
        args = (
            ["checkout", "--quiet", "-B", branch, commit]
            if branch
            else ["checkout", "--quiet", "--detach", commit]
        )
        return _git(args, cwd=workspace)

    result = checkout(sha)
    if result.returncode != 0 and sha == ref:
        resolved = _resolve(workspace, ref)  # e.g. a sha only reachable by fetching
        if resolved is not None:
            sha, result = resolved, checkout(resolved)
    if result.returncode != 0:
        raise WorkspaceError(f"git checkout of {ref!r} ({sha}) failed: {result.stderr.strip()}")
    console.note(f"osci: workspace {workspace}: cloned {source} at {ref} ({sha})")
    return sha


PROJECTS_DIR = Path(".osci") / "projects"  # a job's required projects, inside its workspace


def clone_all(req: Any, workspace: Path, console: Console) -> None:
    """The request's project at its ref, and each of its required projects at the commit the
    server chose (a gate's speculative state, or the branch tip) under `.osci/projects/<name>`."""
    assert req.ref is not None
    clone(req.source, req.ref, workspace, req.branch, console)
    if not req.projects:
        return
    info = workspace / ".git" / "info"
    info.mkdir(parents=True, exist_ok=True)
    with (info / "exclude").open("a") as exclude:
        exclude.write("/.osci/\n")  # the project's own `git status` stays clean
    for name, (source, commit) in sorted(req.projects.items()):
        target = workspace / PROJECTS_DIR / name
        if not target.resolve().is_relative_to((workspace / PROJECTS_DIR).resolve()):
            raise WorkspaceError(f"required project name {name!r} leaves the workspace")
        target.parent.mkdir(parents=True, exist_ok=True)
        clone(Path(source), commit, target, None, console)


def copy(source: Path, workspace: Path, skip: list[Path], console: Console) -> None:
    """Copy the working directory as it is (uncommitted changes and .git included)."""
    if not source.is_dir():
        raise WorkspaceError(f"source {source} does not exist or is not a directory")
    skip_resolved = {p.resolve() for p in skip}

    def ignore(directory: str, names: list[str]) -> set[str]:
        here = Path(directory).resolve()
        return {n for n in names if n in SKIP_NAMES or (here / n) in skip_resolved}

    try:
        shutil.copytree(source, workspace, symlinks=True, ignore=ignore, dirs_exist_ok=True)
    except (OSError, shutil.Error) as exc:
        raise WorkspaceError(f"copying {source} into the workspace failed: {exc}") from exc
    console.note(f"osci: workspace {workspace}: copied {source}")


def make_self_contained(workspace: Path) -> None:
    """`clone` borrows the source's objects (--shared); a workspace sent to another machine
    (an agent, a lab host) needs them in its own .git. The clone's reflogs stay behind: a
    fresh clone's are of no use there, and every file is one more to send and unpack."""
    projects = workspace / PROJECTS_DIR
    found = sorted(p.parent for p in projects.rglob(".git")) if projects.is_dir() else []
    for repo in [workspace, *found]:
        alternates = repo / ".git" / "objects" / "info" / "alternates"
        if alternates.exists():
            result = _git(["repack", "-a", "-d", "-q", "-n"], cwd=repo)
            if result.returncode != 0:
                raise WorkspaceError(f"git repack failed: {result.stderr.strip()}")
            alternates.unlink()
        remove(repo / ".git" / "logs")


def remove(workspace: Path) -> None:
    """Remove a workspace, even with read-only files in it; never raises."""

    def make_writable(func, path, _exc_info):  # type: ignore[no-untyped-def]
        try:
            os.chmod(path, 0o700)
            func(path)
        except OSError:
            pass

    if sys.version_info >= (3, 12):
        shutil.rmtree(workspace, onexc=make_writable)
    else:
        shutil.rmtree(workspace, onerror=make_writable)
