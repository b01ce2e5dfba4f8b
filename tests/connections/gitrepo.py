"""Real git repositories for connection tests, made with the git CLI."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Ada Lovelace",
    "GIT_AUTHOR_EMAIL": "ada@example.org",
    "GIT_COMMITTER_NAME": "Ada Lovelace",
    "GIT_COMMITTER_EMAIL": "ada@example.org",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(*args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    full_env = {**os.environ, **GIT_ENV, **(env or {})}
    done = subprocess.run(["git", *args], cwd=cwd, env=full_env, capture_output=True, text=True)
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout + done.stderr


class Upstream:
    """A bare repository `base/<name>.git` and a working clone that pushes to it."""

    def __init__(self, base: Path, name: str) -> None:
        self.bare = base / f"{name}.git"
        self.bare.parent.mkdir(parents=True, exist_ok=True)
        git("init", "--quiet", "--bare", "-b", "main", str(self.bare), cwd=base)
        self.work = base.parent / "work" / name
        self.work.parent.mkdir(parents=True, exist_ok=True)
        git("clone", "--quiet", str(self.bare), str(self.work), cwd=base)
        git("checkout", "--quiet", "-b", "main", cwd=self.work)

    def commit(self, files: dict[str, str], message: str = "change", author: str | None = None) -> str:
        for name, text in files.items():
            path = self.work / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        git("add", "-A", cwd=self.work)
        env = {}
        if author:
            name, _, email = author.partition(" <")
            env = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email.rstrip(">")}
        git("commit", "--quiet", "-m", message, cwd=self.work, env=env)
        return self.head()

    def head(self, ref: str = "HEAD") -> str:
        return git("rev-parse", ref, cwd=self.work).strip()

    def push(self, *refspecs: str) -> str:
        return git("push", "--quiet", "origin", *(refspecs or ("main",)), cwd=self.work)
