"""Private repositories: git fetches a pull request's ref over HTTPS with the connection's
token (a token, or the App's installation token) given only in git's environment."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from osci.connections.github import GitHubConnection

from .apidouble import GitHubDouble
from .githttp import GitHttpServer

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Dev",
    "GIT_AUTHOR_EMAIL": "dev@example.org",
    "GIT_COMMITTER_NAME": "Dev",
    "GIT_COMMITTER_EMAIL": "dev@example.org",
}


def git(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**os.environ, **GIT_ENV, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def upstream(tmp_path: Path) -> tuple[Path, str]:
    """served/acme/widget.git with main and refs/pull/1/head."""
    bare = tmp_path / "served" / "acme" / "widget.git"
    work = tmp_path / "work"
    assert git("init", "-q", "--bare", "-b", "main", str(bare)).returncode == 0
    assert git("init", "-q", "-b", "main", str(work)).returncode == 0
    (work / "a.txt").write_text("a\n")
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "initial", cwd=work)
    git("push", "-q", str(bare), "HEAD:refs/heads/main", cwd=work)
    (work / "a.txt").write_text("b\n")
    git("commit", "-q", "-am", "pull request", cwd=work)
    git("push", "-q", str(bare), "HEAD:refs/pull/1/head", cwd=work)
    head = git("rev-parse", "HEAD", cwd=work).stdout.strip()
    return tmp_path / "served", head


def fetch(tmp_path: Path, url: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    target = tmp_path / "clone"
    if not target.exists():
        git("init", "-q", "--bare", str(target))
    return git("fetch", "-q", url, "refs/pull/1/head", cwd=target, env=env)


def test_an_installation_token_fetches_a_private_repository(
    make_connection: Callable[..., GitHubConnection],
    double: GitHubDouble,
    upstream: tuple[Path, str],
    tmp_path: Path,
) -> None:
    root, head = upstream
    with GitHttpServer(root, accept=lambda token: token in double.installation_tokens) as server:
        conn = make_connection(**{"git-url": server.url})
        url = conn.clone_url("acme/widget")
        assert url == f"{server.url}/acme/widget.git"
        refused = fetch(tmp_path, url, {"GIT_TERMINAL_PROMPT": "0"})
        assert refused.returncode != 0  # private: nothing without the token
        env = asyncio.run(conn.git_env("acme/widget"))
        [token] = double.installation_tokens
        assert token not in url and all(token not in value for value in env.values())  # base64 in a header
        fetched = fetch(tmp_path, url, env)
        assert fetched.returncode == 0, fetched.stderr
        assert git("rev-parse", "FETCH_HEAD", cwd=tmp_path / "clone").stdout.strip() == head
        assert token not in (tmp_path / "clone" / "config").read_text()
        assert server.seen[-1][1] is not None


def test_a_plain_token_and_a_local_git_url(
    make_connection: Callable[..., GitHubConnection],
    double: GitHubDouble,
    upstream: tuple[Path, str],
    tmp_path: Path,
) -> None:
    root, head = upstream
    token = "ghp_" + "z" * 36
    with GitHttpServer(root, accept=lambda given: given == token) as server:
        conn = make_connection(token=token, **{"git-url": server.url})
        fetched = fetch(tmp_path, conn.clone_url("acme/widget"), asyncio.run(conn.git_env("acme/widget")))
        assert fetched.returncode == 0, fetched.stderr
        wrong = make_connection(token="ghp_wrong", **{"git-url": server.url})
        refused = fetch(tmp_path, wrong.clone_url("acme/widget"), asyncio.run(wrong.git_env("acme/widget")))
        assert refused.returncode != 0 and "ghp_wrong" not in refused.stderr
    local = make_connection(**{"git-url": str(root)})
    assert asyncio.run(local.git_env("acme/widget")) == {}
    assert local.clone_url("acme/widget") == str(root / "acme" / "widget.git")
