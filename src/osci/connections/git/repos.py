"""Where a project's repository lives, and reading its files and authors."""

from __future__ import annotations

import re
from pathlib import Path

from osci.connections.git.gitcmd import GitError, git, nul_split
from osci.connections.git.refs import HEADS, RefChange

NEW_BRANCH_COMMITS = 1000  # beyond this a new branch's files are "unknown" (None)

_REMOTE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://|^[^/\s]+@[^/\s]+:")


def is_remote(baseurl: str) -> bool:
    """True for URLs (`https://`, `ssh://`, `file://`, `user@host:`), False for a local folder."""
    return bool(_REMOTE.match(baseurl))


def safe_project(project: str) -> bool:
    """A project name that cannot escape baseurl or the data folder."""
    parts = project.split("/")
    return bool(project) and not project.startswith("/") and all(p not in ("", ".", "..") for p in parts)


def local_repo(baseurl: str, project: str) -> Path | None:
    """`baseurl/<project>` or `baseurl/<project>.git`, whichever exists."""
    base = Path(baseurl).expanduser()
    for candidate in (base / project, base / f"{project}.git"):
        if candidate.is_dir():
            return candidate
    return None


async def fetch_mirror(mirror: Path, url: str, extra: tuple[str, ...] = ()) -> None:
    """Bring the bare `mirror` of `url` up to date (created on first use)."""
    if not (mirror / "HEAD").exists():
        mirror.mkdir(parents=True, exist_ok=True)
        await git("init", "--quiet", "--bare", str(mirror))
    await git(
        "fetch",
        "--quiet",
        "--prune",
        "--force",
        url,
        "+refs/heads/*:refs/heads/*",
        "+refs/tags/*:refs/tags/*",
        *(f"+{prefix}*:{prefix}*" for prefix in extra),
        cwd=mirror,
    )


async def author(repo: Path, commit: str) -> str | None:
    out = await git("log", "-1", "--format=%an <%ae>", commit, "--", cwd=repo, timeout=60)
    return out.decode(errors="replace").strip() or None


async def tip_files(repo: Path, commit: str) -> list[str]:
    out = await git(
        "diff-tree",
        "--no-commit-id",
        "--name-only",
        "-r",
        "-z",
        "--root",
        "--diff-merges=first-parent",
        commit,
        cwd=repo,
        timeout=60,
    )
    return nul_split(out)


async def changed_files(repo: Path, change: RefChange, refs: dict[str, str]) -> list[str] | None:
    """The files a branch update changed, as git sees them.

    An update: `git diff --name-only oldrev newrev`. A deletion: none. A new branch: the files
    of the commits on it that no other branch has (a merge by its diff against its first
    parent); when it adds no commit of its own (a branch
    made at an existing commit), the tip commit's files, so that jobs with `files` still run;
    past NEW_BRANCH_COMMITS commits (a whole history pushed at once), None: unknown.
    """
    if change.deleted:
        return []
    if not change.created:
        try:
            out = await git(
                "diff", "--name-only", "-z", change.oldrev, change.newrev, "--", cwd=repo, timeout=60
            )
            return nul_split(out)
        except GitError:
            # oldrev is gone (forced push, then gc): fall back to the tip commit.
            return await tip_files(repo, change.newrev)
    others = sorted({sha for ref, sha in refs.items() if ref.startswith(HEADS) and ref != change.ref})
    exclude = ["--not", *others] if others else []
    count = int(
        (await git("rev-list", "--count", change.newrev, *exclude, "--", cwd=repo, timeout=120)).strip() or 0
    )
    if count > NEW_BRANCH_COMMITS:
        return None  # a whole imported history: unknown, so every job runs
    if count == 0:
        return await tip_files(repo, change.newrev)
    log_args = [
        "log",
        "--format=",
        "--name-only",
        "-z",
        "--diff-merges=first-parent",
        change.newrev,
        *exclude,
    ]
    files = nul_split(await git(*log_args, "--", cwd=repo, timeout=120))
    return files or await tip_files(repo, change.newrev)
