"""Speculative states: a proposed change fetched from its review system and put on top of its
branch tip the way the project's `merge-mode` says, in a merger repository of our own.

The executor then clones that repository and checks out the exact commit made here, so what
is tested is what would be merged. `prepare` takes a list of changes of one project, applied
in order (today a single change; stacks of dependent changes are the same call with more).

One merger repository per project lives under the merger's root; operations on one repository
are serialised (it has one work tree), different projects run side by side. Each prepared
commit is kept alive by a ref `refs/osci/items/<key>` so `git gc` never drops what a queued
build will check out.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from osci.gitproc import GitFailed, run_git

MERGE_MODES = ("merge", "merge-resolve", "squash-merge", "cherry-pick", "rebase")
DEFAULT_MODE = "merge"
FETCH_TIMEOUT = 3600.0
# Commits made here (merges, squashes, rebased copies) are signed by the merger itself.
IDENTITY = ("-c", "user.name=osci merger", "-c", "user.email=osci-merger@localhost")
_SAFE_KEY = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


class MergerError(RuntimeError):
    """The merger could not do its work (fetch failed, ref missing): an infrastructure problem,
    never the change's fault. The message has git's own words, without credentials."""


@dataclass(frozen=True)
class ChangeToTest:
    """One change to put on its branch: where to fetch it and how to merge it."""

    project: str
    url: str  # where the branch and the change are fetched from (a path or a git URL)
    branch: str
    ref: str | None = None  # e.g. refs/changes/45/12345/3; None: test the branch itself
    revision: str | None = None  # the commit `ref` must hold (or, without a ref, the commit to test)
    mode: str = DEFAULT_MODE
    # added to git's environment for the fetch (a connection's `git_env`: an SSH command with its
    # key, an HTTP header with a token); never shown
    env: Mapping[str, str] = field(default_factory=dict, repr=False)


@dataclass
class Speculation:
    """The outcome of `prepare`: a commit to check out, or the conflict that prevented it."""

    repo: Path  # the merger repository (what the executor clones)
    commit: str | None  # the commit to test; None when a change did not merge
    base: str | None = None  # the branch tip the changes were put on
    change_commits: list[str] = field(default_factory=list)  # each change's own commit, as fetched
    conflict: str | None = None  # why a change could not be merged (with the files in conflict)


def safe_project_path(project: str) -> bool:
    parts = project.split("/")
    return bool(project) and not project.startswith("/") and all(p not in ("", ".", "..") for p in parts)


class Merger:
    """The merger repositories under `root`, one per project."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._locks: dict[str, asyncio.Lock] = {}
        # (project, what it was put on, the change's commit, mode) -> the commit made: a state
        # asked again (a re-run, a restart of the items behind) is the same commit, not a new merge
        self._cache: dict[tuple[str, str, str, str], str] = {}

    def repo_path(self, project: str) -> Path:
        if not safe_project_path(project):
            raise MergerError(f"project name {project!r} cannot name a folder")
        return self.root / project

    async def prepare(
        self, changes: Sequence[ChangeToTest], key: str, onto: str | None = None
    ) -> Speculation:
        """Fetch the branch tip and each change, and apply the changes on the tip in order.

        `onto`: a commit of this merger repository to apply them on instead of the tip (a gate's
        state of the items ahead); `base` is still the branch tip.

        `key` names the result (`refs/osci/items/<key>`), e.g. the item's id. Raises MergerError
        when git cannot fetch; a change that does not apply is a Speculation with `conflict`."""
        if not changes:
            raise ValueError("nothing to prepare")
        if not _SAFE_KEY.match(key):
            raise ValueError(f"bad speculation key {key!r}")
        first = changes[0]
        for change in changes:
            if change.project != first.project or change.branch != first.branch:
                raise ValueError("the changes of one speculation must share a project and branch")
            if change.mode not in MERGE_MODES:
                raise ValueError(
                    f"unknown merge mode {change.mode!r}; expected one of {', '.join(MERGE_MODES)}"
                )
        repo = self.repo_path(first.project)
        lock = self._locks.setdefault(str(repo), asyncio.Lock())
        async with lock:
            await _ensure_repo(repo)
            await _clean(repo)
            fetched = await _fetch(repo, changes)
            base = fetched[0]
            spec = Speculation(repo=repo, commit=None, base=base, change_commits=fetched[1:])
            start = base
            if onto is not None:
                if not await _git(repo, "rev-parse", "--verify", "-q", f"{onto}^{{commit}}", check=False):
                    raise MergerError(f"the state to build on ({onto[:12]}) is not in the merger repository")
                start = onto
            cache_key = (first.project, start, ",".join(spec.change_commits), first.mode)
            if first.ref is not None and cache_key in self._cache:
                spec.commit = self._cache[cache_key]
                await _git(repo, "update-ref", f"refs/osci/items/{key}", spec.commit)
                return spec
            await _git(repo, "checkout", "-q", "--detach", "-f", start)
            if first.ref is None:
                # the branch itself (or a given commit on it): nothing to merge
                spec.commit = first.revision or base
                if first.revision:
                    await _git(repo, "checkout", "-q", "--detach", "-f", first.revision)
            else:
                for change, commit in zip(changes, spec.change_commits, strict=True):
                    conflict = await _apply(repo, change, commit)
                    if conflict is not None:
                        spec.conflict = conflict
                        await _clean(repo)
                        return spec
                spec.commit = (await _git(repo, "rev-parse", "HEAD")).strip()
                self._cache[cache_key] = spec.commit
            await _git(repo, "update-ref", f"refs/osci/items/{key}", spec.commit)
            return spec

    async def changed_files(self, project: str, commit: str) -> list[str]:
        """The files `commit` changes against its first parent (all its files for a root commit)."""
        out = await _git(
            self.repo_path(project),
            "diff-tree", "--no-commit-id", "--name-only", "-r", "-z", "--root", "--diff-merges=first-parent", commit,
        )  # fmt: skip
        return list(dict.fromkeys(name for name in out.split("\0") if name.strip("\n")))

    async def forget(self, project: str, key: str) -> None:
        """Drop the ref that keeps a speculation alive (its builds are done)."""
        repo = self.repo_path(project)
        if (repo / ".git").exists():
            await _git(repo, "update-ref", "-d", f"refs/osci/items/{key}", check=False)


# -- git steps ------------------------------------------------------------------------------------


async def _git(
    repo: Path, *args: str, check: bool = True, timeout: float = 600, env: Mapping[str, str] | None = None
) -> str:
    try:
        out = await run_git("-C", str(repo), *IDENTITY, *args, timeout=timeout, env=dict(env or {}))
    except GitFailed as exc:
        if not check:
            return ""
        raise MergerError(_redact(f"git {_verb_of(args)} in {repo}: {exc.stderr.strip()}")) from None
    except TimeoutError as exc:
        raise MergerError(f"git {_verb_of(args)} in {repo}: {exc}") from None
    return out.decode(errors="replace")


def _verb_of(args: tuple[str, ...]) -> str:
    """The git command among `args` (after any `-c name=value` options), for messages."""
    rest = list(args)
    while rest[:1] == ["-c"]:
        rest = rest[2:]
    return rest[0] if rest else "?"


async def _try(repo: Path, *args: str) -> tuple[bool, str]:
    """Run a step that may conflict: (succeeded, git's message)."""
    try:
        await run_git("-C", str(repo), *IDENTITY, *args, timeout=600)
    except GitFailed as exc:
        return False, exc.stderr.strip()
    return True, ""


def _redact(text: str) -> str:
    return re.sub(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@", r"\g<scheme>***@", text)


async def _ensure_repo(repo: Path) -> None:
    if (repo / ".git").is_dir():
        return
    repo.mkdir(parents=True, exist_ok=True)
    await _git(repo, "init", "-q", "--template=")
    # Builds clone this repository with --shared: its objects must never be pruned under them.
    await _git(repo, "config", "gc.auto", "0")
    await _git(repo, "config", "gc.pruneExpire", "never")


async def _clean(repo: Path) -> None:
    """Leave the work tree as if nothing had happened: no merge, rebase or stray file."""
    for abort in (("merge", "--abort"), ("cherry-pick", "--abort"), ("rebase", "--abort")):
        await _git(repo, *abort, check=False)
    await _git(repo, "reset", "-q", "--hard", check=False)
    await _git(repo, "clean", "-q", "-fdx", check=False)


async def _fetch(repo: Path, changes: Sequence[ChangeToTest]) -> list[str]:
    """Fetch the branch and every change; [branch tip, change commits...]."""
    first = changes[0]
    refspecs = [f"+refs/heads/{first.branch}:refs/remotes/origin/{first.branch}"]
    for index, change in enumerate(changes):
        if change.ref is not None:
            refspecs.append(f"+{change.ref}:refs/osci/fetched/{index}")
    await _git(repo, "fetch", "-q", "--no-tags", first.url, *refspecs, timeout=FETCH_TIMEOUT, env=first.env)
    tip = (
        await _git(repo, "rev-parse", "--verify", f"refs/remotes/origin/{first.branch}^{{commit}}")
    ).strip()
    commits = [tip]
    for index, change in enumerate(changes):
        if change.ref is None:
            if change.revision:
                await _have(repo, change, change.revision)
            continue
        commit = (await _git(repo, "rev-parse", "--verify", f"refs/osci/fetched/{index}^{{commit}}")).strip()
        if change.revision and not commit.startswith(change.revision.lower()):
            raise MergerError(
                f"{change.ref} of {change.project} is at {commit[:12]}, not {change.revision[:12]}"
            )
        commits.append(commit)
    return commits


async def _have(repo: Path, change: ChangeToTest, revision: str) -> None:
    if not await _git(repo, "rev-parse", "--verify", "-q", f"{revision}^{{commit}}", check=False):
        raise MergerError(f"commit {revision[:12]} is not on {change.branch} of {change.project}")


async def _conflicted_files(repo: Path) -> list[str]:
    out = await _git(repo, "diff", "--name-only", "--diff-filter=U", check=False)
    return [line for line in out.splitlines() if line]


async def _apply(repo: Path, change: ChangeToTest, commit: str) -> str | None:
    """Put `commit` on HEAD as `change.mode` says; None, or why it does not apply."""
    mode = change.mode
    if mode in ("merge", "merge-resolve"):
        strategy = ["-s", "resolve"] if mode == "merge-resolve" else []
        ok, message = await _try(repo, "merge", "-q", "--no-edit", *strategy, commit)
    elif mode == "squash-merge":
        ok, message = await _try(repo, "merge", "-q", "--squash", commit)
        if ok:  # the change's message and author, one parent: the branch tip
            ok, message = await _try(repo, "commit", "-q", "--allow-empty", "--no-verify", "-C", commit)
    elif mode == "cherry-pick":
        parents = (await _git(repo, "rev-list", "--parents", "-n", "1", commit)).split()[1:]
        mainline = ["-m", "1"] if len(parents) > 1 else []
        ok, message = await _try(
            repo, "cherry-pick", "--allow-empty", "--keep-redundant-commits", *mainline, commit
        )
    else:  # rebase: the change's own commits replayed on the tip
        onto = (await _git(repo, "rev-parse", "HEAD")).strip()
        await _git(repo, "checkout", "-q", "--detach", "-f", commit)
        ok, message = await _try(repo, "rebase", "-q", onto)
    if ok:
        return None
    files = await _conflicted_files(repo)
    label = change.ref or commit[:12]
    if files:
        return f"{label} does not {_verb(mode)} onto {change.branch}: conflict in {', '.join(files)}"
    last = message.splitlines()[-1] if message else "git refused"
    return f"{label} does not {_verb(mode)} onto {change.branch}: {_redact(last)}"


def _verb(mode: str) -> str:
    return {"rebase": "rebase", "cherry-pick": "cherry-pick"}.get(mode, "merge")
