"""Private repositories: git fetches a merge request's head over HTTPS with the connection's
token, given to git only in its environment."""

from __future__ import annotations

import asyncio
import base64
import subprocess
from pathlib import Path

from connections.github.githttp import GitHttpServer
from osci.connections.base import ConnectionContext
from osci.connections.gitlab import GitLabConnection

from .conftest import PROJECT, GitLabProject
from .payloads import TOKEN

API_TOKEN = "glpat-" + "q" * 20


class GitLabHttp(GitHttpServer):
    """git over smart HTTP that, like GitLab, takes a token as the password of any user."""

    def _allowed(self, header: str | None) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        user, _, token = base64.b64decode(header[6:]).decode().partition(":")
        return bool(user) and self.accept(token)


def make(tmp_path: Path, **config: str) -> GitLabConnection:
    config.setdefault("webhook-token", TOKEN)
    return GitLabConnection("gl", config, ConnectionContext(data_dir=tmp_path, base_url="http://osci"))


def fetch(tmp_path: Path, url: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    target = tmp_path / "clone"
    if not target.exists():
        subprocess.run(["git", "init", "-q", "--bare", str(target)], check=True)
    return subprocess.run(
        ["git", "fetch", "-q", url, "refs/merge-requests/1/head"],
        cwd=target,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_token_fetches_a_private_merge_request(
    tmp_path: Path, repos: Path, project: GitLabProject
) -> None:
    head = project.merge_request(1, {"a.txt": "change\n"})
    with GitLabHttp(repos, accept=lambda token: token == API_TOKEN) as server:
        conn = make(tmp_path, token=API_TOKEN, **{"git-url": server.url, "baseurl": server.url})
        url = conn.clone_url(PROJECT)
        assert url == f"{server.url}/{PROJECT}.git"
        assert fetch(tmp_path, url, {"GIT_TERMINAL_PROMPT": "0"}).returncode != 0
        env = asyncio.run(conn.git_env(PROJECT))
        assert all(API_TOKEN not in value for value in env.values())  # base64, in a header
        fetched = fetch(tmp_path, url, env)
        assert fetched.returncode == 0, fetched.stderr
        done = subprocess.run(["git", "rev-parse", "FETCH_HEAD"], cwd=tmp_path / "clone", capture_output=True)
        assert done.stdout.decode().strip() == head
        assert API_TOKEN not in (tmp_path / "clone" / "config").read_text()
        wrong = make(tmp_path, token="glpat-wrong", **{"git-url": server.url})
        refused = fetch(tmp_path, url, asyncio.run(wrong.git_env(PROJECT)))
        assert refused.returncode != 0 and "glpat-wrong" not in refused.stderr


def test_no_token_in_git_for_local_folders_ssh_or_no_token(tmp_path: Path, repos: Path) -> None:
    assert asyncio.run(make(tmp_path, token=API_TOKEN, **{"git-url": str(repos)}).git_env(PROJECT)) == {}
    assert (
        asyncio.run(make(tmp_path, token=API_TOKEN, **{"git-url": "git@gitlab.com:"}).git_env(PROJECT)) == {}
    )
    assert asyncio.run(make(tmp_path).git_env(PROJECT)) == {}
