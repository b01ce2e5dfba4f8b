"""Reading a project's repository at an exact revision: its in-repo configuration files.

The merger's job grows with gating (speculative merges); for now it answers
"what is `.osci.yaml` at this commit" without a checkout, straight from git's
object store, so planning an item costs one or two `git` calls.
"""

from __future__ import annotations

from pathlib import Path

from osci.gitproc import GitFailed, run_git

IN_REPO_FILES = (".osci.yaml", "osci.yaml")
IN_REPO_DIRS = (".osci.d", "osci.d")


class GitError(RuntimeError):
    """A git command failed; the message holds git's own words."""


async def git(repo: str | Path, *args: str, check: bool = True) -> str:
    try:
        out = await run_git("-C", str(repo), *args)
    except GitFailed as exc:
        if not check:
            return ""
        raise GitError(f"git {' '.join(args)} in {repo}: {exc.stderr.strip()}") from None
    except TimeoutError as exc:
        raise GitError(f"git {' '.join(args)} in {repo}: {exc}") from None
    return out.decode(errors="replace")


async def resolve(repo: str | Path, rev: str) -> str:
    """The commit sha `rev` names."""
    return (await git(repo, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")).strip()


async def in_repo_config(repo: str | Path, rev: str) -> dict[str, str]:
    """The in-repo configuration files at `rev` (path -> text); empty when it has none."""
    listing = await git(repo, "ls-tree", "-r", "--name-only", rev, "--", *IN_REPO_FILES, *IN_REPO_DIRS)
    wanted = [
        name
        for name in listing.splitlines()
        if name in IN_REPO_FILES
        or (name.split("/", 1)[0] in IN_REPO_DIRS and name.endswith((".yaml", ".yml")))
    ]
    return {name: await git(repo, "show", f"{rev}:{name}") for name in wanted}
