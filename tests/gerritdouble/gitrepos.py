"""The double's git side: bare repositories with branches and `refs/changes/NN/NNNN/P`, made of
real commits with the git CLI, the way Gerrit stores patchsets."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Jane Developer",
    "GIT_AUTHOR_EMAIL": "jane@example.org",
    "GIT_COMMITTER_NAME": "Jane Developer",
    "GIT_COMMITTER_EMAIL": "jane@example.org",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(*args: str, cwd: Path) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, env={**os.environ, **GIT_ENV}, capture_output=True, text=True
    )
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout.strip()


def change_ref(number: int, patchset: int) -> str:
    return f"refs/changes/{number % 100:02d}/{number}/{patchset}"


class GitRepos:
    """`root/<project>.git` bare repositories."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def bare(self, project: str) -> Path:
        return self.root / f"{project}.git"

    def create(self, project: str, files: dict[str, str], branch: str = "master") -> str:
        """A new project whose `branch` has one commit with `files`; returns the commit."""
        bare = self.bare(project)
        bare.parent.mkdir(parents=True, exist_ok=True)
        git("init", "-q", "--bare", "-b", branch, str(bare), cwd=self.root)
        return self.commit(project, None, files, "initial", f"refs/heads/{branch}")

    def tip(self, project: str, branch: str = "master") -> str:
        return git("rev-parse", f"refs/heads/{branch}", cwd=self.bare(project))

    def rev(self, project: str, ref: str) -> str:
        return git("rev-parse", ref, cwd=self.bare(project))

    def merge(self, project: str, branch: str, revision: str) -> str:
        """`revision` onto `branch`: a fast-forward when it descends from the tip, else a merge."""
        bare = self.bare(project)
        tip = self.tip(project, branch)
        with tempfile.TemporaryDirectory(prefix="gerrit-double-") as tmp:
            work = Path(tmp)
            git("init", "-q", cwd=work)
            git("fetch", "-q", str(bare), tip, revision, cwd=work)
            git("checkout", "-q", "--detach", tip, cwd=work)
            git("merge", "-q", "--no-edit", revision, cwd=work)
            commit = git("rev-parse", "HEAD", cwd=work)
            git("push", "-q", str(bare), f"HEAD:refs/heads/{branch}", cwd=work)
        return commit

    def commit(self, project: str, parent: str | None, files: dict[str, str], message: str, ref: str) -> str:
        """A commit on `parent` (None: a root commit) changing `files` (text None deletes),
        stored at `ref` in the bare repository."""
        bare = self.bare(project)
        with tempfile.TemporaryDirectory(prefix="gerrit-double-") as tmp:
            work = Path(tmp)
            git("init", "-q", cwd=work)
            if parent is not None:
                git("fetch", "-q", str(bare), parent, cwd=work)
                git("checkout", "-q", "--detach", parent, cwd=work)
            for name, text in files.items():
                path = work / name
                if text is None:
                    path.unlink()
                    continue
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
            git("add", "-A", cwd=work)
            git("commit", "-q", "--allow-empty", "-m", message, cwd=work)
            commit = git("rev-parse", "HEAD", cwd=work)
            git("push", "-q", "-f", str(bare), f"HEAD:{ref}", cwd=work)
        return commit
