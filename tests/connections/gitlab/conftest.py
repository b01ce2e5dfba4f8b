from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connections.gitrepo import Upstream, git

from .gitlab_api import GitLabAPI

PROJECT = "acme/widget"


class GitLabProject(Upstream):
    """A bare repository laid out as GitLab keeps one, with merge request heads under
    `refs/merge-requests/<iid>/head`, and a work tree to make commits in."""

    def __init__(self, repos: Path, name: str) -> None:
        super().__init__(repos, name)
        self.name = name

    def merge_request(self, iid: int, files: dict[str, str], target: str = "main") -> str:
        """Commit `files` on a branch off `target` and publish it as merge request `iid`'s head."""
        git("checkout", "--quiet", "-B", f"mr-{iid}", target, cwd=self.work)
        sha = self.commit(files, message=f"merge request {iid}")
        self.push(f"HEAD:refs/merge-requests/{iid}/head")
        git("checkout", "--quiet", target, cwd=self.work)
        return sha


@pytest.fixture
def repos(tmp_path: Path) -> Path:
    folder = tmp_path / "repos"
    folder.mkdir()
    return folder


@pytest.fixture
def project(repos: Path) -> GitLabProject:
    upstream = GitLabProject(repos, PROJECT)
    upstream.commit({"README": "hello\n", "src/app.py": "print(1)\n"}, message="initial")
    upstream.push("main")
    return upstream


@pytest.fixture
def gitlab(repos: Path) -> Iterator[GitLabAPI]:
    with GitLabAPI(repos) as api:
        yield api
