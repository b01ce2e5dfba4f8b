"""`osci hook install` and the hook it writes, with real pushes and a real HTTP server."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from osci.cli.hook_cmd import hook_group
from osci.connections.base import ConnectionContext
from osci.connections.git import GitConnection
from osci.connections.git.hook import CHAINED

from .conftest import Recorder
from .gitrepo import Upstream, git
from .httpserver import RecordingServer, Request


@pytest.fixture
def upstream(tmp_path: Path) -> Upstream:
    repo = Upstream(tmp_path / "repos", "acme/widget")
    repo.commit({"README": "hello\n"}, "initial")
    repo.push()
    return repo


def install(repo: Path, server: str, *extra: str) -> str:
    result = CliRunner().invoke(
        hook_group, ["install", str(repo), "--server", server, "--connection", "local", *extra]
    )
    assert result.exit_code == 0, result.output
    return result.output


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_push_notifies_the_server_which_polls(
    upstream: Upstream, context: ConnectionContext, tmp_path: Path
) -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        emit = Recorder()
        conn = GitConnection(
            "local",
            {"baseurl": str(tmp_path / "repos"), "poll-interval": 0, "projects": ["acme/widget"]},
            context,
        )
        await conn.start(emit)
        await conn.first_poll_done.wait()

        def respond(request: Request) -> int:
            payload = json.loads(request.body or b"{}")
            asyncio.run_coroutine_threadsafe(conn.notify(payload), loop).result(timeout=30)
            return 202

        with RecordingServer(respond) as server:
            output = install(upstream.bare, server.url, "--project", "acme/widget")
            hook = upstream.bare / "hooks" / "post-receive"
            assert f"installed {hook}" in output
            assert os.access(hook, os.X_OK)
            new = upstream.commit({"pushed.txt": "p\n"})
            await asyncio.to_thread(upstream.push)
        await conn.stop()
        [request] = server.requests
        assert request.path == "/api/connection/local/notify"
        assert request.headers["content-type"] == "application/json"
        assert json.loads(request.body) == {"project": "acme/widget"}
        [event] = emit.events  # the hook's notify found the push without any poll interval
        assert (event.newrev, event.files) == (new, ["pushed.txt"])

    asyncio.run(scenario())


def test_existing_hook_is_chained(upstream: Upstream, tmp_path: Path) -> None:
    hooks = upstream.bare / "hooks"
    seen = tmp_path / "chained-input"
    (hooks / "post-receive").write_text(f"#!/bin/sh\ncat > {seen}\necho chained-ran\n")
    (hooks / "post-receive").chmod(0o755)
    with RecordingServer() as server:
        install(upstream.bare, server.url)
        install(upstream.bare, server.url)  # installing again keeps the chained hook
        assert (hooks / CHAINED).exists()
        old = upstream.head()
        new = upstream.commit({"x": "x\n"})
        output = upstream.push()
    assert "chained-ran" in output
    assert seen.read_text().split() == [old, new, "refs/heads/main"]
    [request] = server.requests
    assert json.loads(request.body) == {}


def test_unreachable_server_does_not_fail_the_push(upstream: Upstream) -> None:
    install(upstream.bare, f"http://127.0.0.1:{free_port()}")
    upstream.commit({"y": "y\n"})
    output = upstream.push()  # asserts git exits 0
    assert "osci: could not notify" in output
    assert git("rev-parse", "main", cwd=upstream.bare).strip() == upstream.head()


def test_non_bare_repository(tmp_path: Path) -> None:
    repo = tmp_path / "plain"
    git("init", "--quiet", str(repo), cwd=tmp_path)
    install(repo, "http://127.0.0.1:1")
    assert os.access(repo / ".git" / "hooks" / "post-receive", os.X_OK)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--server", "127.0.0.1:8080", "--connection", "c"], "must be an http(s) URL"),
        (["--server", "http://127.0.0.1:1", "--connection", ""], "--connection must name"),
    ],
)
def test_bad_arguments(tmp_path: Path, args: list[str], message: str) -> None:
    git("init", "--quiet", str(tmp_path / "r"), cwd=tmp_path)
    result = CliRunner().invoke(hook_group, ["install", str(tmp_path / "r"), *args])
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_not_a_repository(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(
        hook_group,
        ["install", str(tmp_path / "empty"), "--server", "http://127.0.0.1:1", "--connection", "c"],
    )
    assert result.exit_code == 1
    assert "not a git repository" in result.output


ODD = 'it\'s "odd" $(touch pwned)/wé'


@pytest.mark.parametrize("with_curl", [True, False])
def test_hook_posts_with_curl_or_python(upstream: Upstream, tmp_path: Path, with_curl: bool) -> None:
    """With no curl on PATH the hook posts with python3's urllib; odd project names survive quoting."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in ("sh", "dirname", "cat", *(["curl"] if with_curl else [])):
        (bindir / tool).symlink_to(shutil.which(tool))
    (bindir / "python3").symlink_to(os.path.realpath(sys.executable))  # a real binary, not a shim
    with RecordingServer() as server:
        install(upstream.bare, server.url, "--project", ODD)
        done = subprocess.run(
            [str(upstream.bare / "hooks" / "post-receive")],
            input=b"a b refs/heads/main\n",
            env={"PATH": str(bindir), "HOME": os.environ.get("HOME", "/")},
            cwd=tmp_path,
            capture_output=True,
        )
    assert done.returncode == 0, done.stderr
    assert done.stderr == b""
    [request] = server.requests
    assert json.loads(request.body) == {"project": ODD}
    assert not (tmp_path / "pwned").exists()
