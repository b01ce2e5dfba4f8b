"""Merging a change into a branch of a bare repository, as a review system's merge button does,
for the GitHub and GitLab API doubles: a merge commit, a squash (one commit on the branch tip),
a squash followed by a merge commit (GitLab), or a rebase (each commit replayed). The branch
moves by compare-and-swap, so a branch that moved meanwhile is reported, not overwritten."""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

ENV = {
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_COMMITTER_NAME": "Review System",
    "GIT_COMMITTER_EMAIL": "noreply@example.org",
}


@dataclass
class Merged:
    sha: str | None  # the branch's new tip; None when nothing happened
    conflict: bool = False
    moved: bool = False  # the branch moved while merging
    squash_sha: str | None = None  # GitLab: the squash commit under the merge commit


def run(
    bare: Path, *args: str, check: bool = True, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        ["git", *args],
        cwd=cwd or bare,
        env={**os.environ, **ENV},
        capture_output=True,
        text=True,
        check=False,
    )
    if check and done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)}: {done.stderr.strip()}")
    return done


def has_commit(bare: Path, sha: str) -> bool:
    return bare.is_dir() and run(bare, "cat-file", "-e", f"{sha}^{{commit}}", check=False).returncode == 0


def tip(bare: Path, branch: str) -> str | None:
    done = run(bare, "rev-parse", "--verify", "-q", f"refs/heads/{branch}^{{commit}}", check=False)
    return done.stdout.strip() or None


def _tree(bare: Path, base: str, head: str) -> str | None:
    done = run(bare, "merge-tree", "--write-tree", "--no-messages", base, head, check=False)
    if done.returncode == 1:
        return None
    if done.returncode != 0:
        raise RuntimeError(f"git merge-tree: {done.stderr.strip()}")
    return done.stdout.split()[0]


def _commit(bare: Path, tree: str, parents: list[str], message: str) -> str:
    args = ["commit-tree", tree, "-m", message]
    for parent in parents:
        args += ["-p", parent]
    author = {"GIT_AUTHOR_NAME": ENV["GIT_COMMITTER_NAME"], "GIT_AUTHOR_EMAIL": ENV["GIT_COMMITTER_EMAIL"]}
    done = subprocess.run(
        ["git", *args],
        cwd=bare,
        env={**os.environ, **ENV, **author},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def _rebase(bare: Path, base: str, head: str) -> str | None:
    """Each commit of base..head replayed onto base (a worktree and cherry-pick); None on a conflict."""
    commits = run(bare, "rev-list", "--reverse", "--no-merges", f"{base}..{head}").stdout.split()
    with tempfile.TemporaryDirectory(prefix="rebase-") as folder:
        work = Path(folder) / "work"
        run(bare, "worktree", "add", "--detach", "-q", str(work), base)
        try:
            for commit in commits:
                if run(bare, "cherry-pick", "--allow-empty", commit, check=False, cwd=work).returncode != 0:
                    run(bare, "cherry-pick", "--abort", check=False, cwd=work)
                    return None
            return run(bare, "rev-parse", "HEAD", cwd=work).stdout.strip()
        finally:
            run(bare, "worktree", "remove", "--force", str(work), check=False)
            run(bare, "worktree", "prune", check=False)


def merge(bare: Path, branch: str, head: str, method: str, message: str) -> Merged:
    """Merge `head` into `branch` by `method` (merge, squash, rebase, squash-merge)."""
    base = tip(bare, branch)
    if base is None:
        raise RuntimeError(f"{bare} has no branch {branch}")
    squash_sha = None
    if method == "rebase":
        new = _rebase(bare, base, head)
        if new is None:
            return Merged(None, conflict=True)
    else:
        tree = _tree(bare, base, head)
        if tree is None:
            return Merged(None, conflict=True)
        if method == "squash":
            new = _commit(bare, tree, [base], message)
        elif method == "squash-merge":
            merge_base = run(bare, "merge-base", base, head).stdout.strip()
            head_tree = run(bare, "rev-parse", f"{head}^{{tree}}").stdout.strip()
            squash_sha = _commit(bare, head_tree, [merge_base], message)
            new = _commit(bare, tree, [base, squash_sha], message)
        else:
            new = _commit(bare, tree, [base, head], message)
    if run(bare, "update-ref", f"refs/heads/{branch}", new, base, check=False).returncode != 0:
        return Merged(None, moved=True)
    return Merged(new, squash_sha=squash_sha)
