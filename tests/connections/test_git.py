"""The git connection against real repositories."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from osci.connections.base import ConnectionConfigError, ConnectionContext, load_driver
from osci.connections.git import GitConnection
from osci.connections.git.refs import ZERO

from .conftest import Recorder
from .gitrepo import Upstream, git


@pytest.fixture
def upstream(tmp_path: Path) -> Upstream:
    repo = Upstream(tmp_path / "repos", "acme/widget")
    repo.commit({"README": "hello\n"}, "initial")
    repo.push()
    return repo


def make(context: ConnectionContext, tmp_path: Path, **config) -> GitConnection:
    config.setdefault("baseurl", str(tmp_path / "repos"))
    config.setdefault("poll-interval", 0)
    config.setdefault("projects", ["acme/widget"])
    return GitConnection("local", config, context)


async def started(conn: GitConnection, emit: Recorder) -> GitConnection:
    await conn.start(emit)
    await conn.first_poll_done.wait()
    return conn


def test_driver_is_found() -> None:
    assert load_driver("git") is GitConnection


def test_push_emits_ref_updated(upstream: Upstream, context: ConnectionContext, tmp_path: Path) -> None:
    async def scenario() -> None:
        emit = Recorder()
        conn = await started(make(context, tmp_path), emit)
        assert emit.events == []  # first sight only records
        old = upstream.head()
        new = upstream.commit(
            {"src/a.py": "x = 1\n", "README": "changed\n"}, author="Grace Hopper <grace@example.org>"
        )
        upstream.push()
        await conn.poll()
        await conn.stop()
        [event] = emit.events
        assert event.type == "ref-updated"
        assert (event.connection, event.project, event.branch, event.ref) == (
            "local",
            "acme/widget",
            "main",
            "refs/heads/main",
        )
        assert (event.oldrev, event.newrev) == (old, new)
        assert event.author == "Grace Hopper <grace@example.org>"
        assert sorted(event.files) == ["README", "src/a.py"]

    asyncio.run(scenario())


def test_new_branch_deletion_and_tag(upstream: Upstream, context: ConnectionContext, tmp_path: Path) -> None:
    async def scenario() -> None:
        emit = Recorder()
        conn = await started(make(context, tmp_path), emit)
        git("checkout", "--quiet", "-b", "feature", cwd=upstream.work)
        tip = upstream.commit({"feature.txt": "f\n"})
        upstream.push("feature")
        await conn.poll()
        [created] = emit.events
        assert (created.type, created.branch, created.oldrev, created.newrev) == (
            "ref-updated",
            "feature",
            ZERO,
            tip,
        )
        assert created.files == ["feature.txt"]  # only what main does not have

        upstream.push(":feature")
        git("tag", "-a", "v1.0", "-m", "release", "main", cwd=upstream.work)
        upstream.push("v1.0")
        await conn.poll()
        await conn.stop()
        deleted, tag = emit.events[1:]
        assert (deleted.type, deleted.branch, deleted.oldrev, deleted.newrev, deleted.files) == (
            "ref-updated",
            "feature",
            tip,
            ZERO,
            [],
        )
        assert (tag.type, tag.ref, tag.branch) == ("tag-created", "refs/tags/v1.0", None)
        assert tag.newrev == upstream.head("main")  # the commit, not the annotated tag object
        assert tag.author == "Ada Lovelace <ada@example.org>"

    asyncio.run(scenario())


def test_branch_at_existing_commit_reports_tip_files(upstream: Upstream, context, tmp_path) -> None:
    async def scenario() -> None:
        emit = Recorder()
        conn = await started(make(context, tmp_path), emit)
        upstream.push("main:refs/heads/stable")
        await conn.poll()
        await conn.stop()
        [event] = emit.events
        assert event.branch == "stable" and event.files == ["README"]

    asyncio.run(scenario())


def test_restart_catches_up_without_repeating(upstream: Upstream, context, tmp_path) -> None:
    async def scenario() -> None:
        emit = Recorder()
        conn = await started(make(context, tmp_path), emit)
        upstream.commit({"one": "1\n"})
        upstream.push()
        await conn.poll()
        await conn.stop()
        assert len(emit.events) == 1

        before = upstream.head()
        after = upstream.commit({"two": "2\n"})  # pushed while the server is down
        upstream.push()

        emit2 = Recorder()
        conn2 = await started(make(context, tmp_path), emit2)
        await conn2.stop()
        [event] = emit2.events
        assert (event.oldrev, event.newrev, event.files) == (before, after, ["two"])

        emit3 = Recorder()
        conn3 = await started(make(context, tmp_path), emit3)
        await conn3.stop()
        assert emit3.events == []

    asyncio.run(scenario())


def test_poll_interval_finds_pushes(upstream: Upstream, context, tmp_path) -> None:
    async def scenario() -> None:
        emit = Recorder()
        conn = await started(make(context, tmp_path, **{"poll-interval": 0.05}), emit)
        new = upstream.commit({"b": "b\n"})
        upstream.push()
        events = await emit.wait_for(1)
        await conn.stop()
        assert events[0].newrev == new

    asyncio.run(scenario())


def test_notify_polls_now(upstream: Upstream, context, tmp_path) -> None:
    async def scenario() -> None:
        emit = Recorder()
        conn = await started(make(context, tmp_path), emit)
        upstream.commit({"c": "c\n"})
        upstream.push()
        await conn.notify({"project": "acme/widget"})
        assert len(emit.events) == 1
        upstream.commit({"d": "d\n"})
        upstream.push()
        await conn.notify({})
        assert len(emit.events) == 2
        with pytest.raises(ValueError, match="does not watch project 'nope'"):
            await conn.notify({"project": "nope"})
        await conn.stop()

    asyncio.run(scenario())


def test_default_projects_are_the_servers_found_under_baseurl(upstream: Upstream, tmp_path: Path) -> None:
    context = ConnectionContext(
        data_dir=tmp_path / "data",
        base_url="http://127.0.0.1:9",
        projects=lambda: [("acme/widget", "main"), ("other/missing", None)],
    )
    conn = GitConnection("local", {"baseurl": str(tmp_path / "repos")}, context)
    assert conn.projects() == ["acme/widget"]
    assert conn.clone_url("acme/widget") == str(upstream.bare)
    assert conn.clone_url("other/missing") is None


def test_remote_url_uses_a_mirror(upstream: Upstream, context, tmp_path) -> None:
    async def scenario() -> None:
        emit = Recorder()
        conn = await started(
            make(context, tmp_path, baseurl=f"file://{tmp_path / 'repos'}", projects=["acme/widget.git"]),
            emit,
        )
        old = upstream.head()
        new = upstream.commit({"remote.txt": "r\n"}, author="Remote Person <rp@example.org>")
        upstream.push()
        await conn.poll()
        await conn.stop()
        [event] = emit.events
        assert (event.project, event.oldrev, event.newrev, event.files) == (
            "acme/widget.git",
            old,
            new,
            ["remote.txt"],
        )
        assert event.author == "Remote Person <rp@example.org>"
        assert (
            context.data_dir / "connections" / "local" / "mirrors" / "acme" / "widget.git" / "HEAD"
        ).exists()

    asyncio.run(scenario())


def test_failing_repository_is_logged_and_retried(upstream: Upstream, context, tmp_path, caplog) -> None:
    async def scenario() -> None:
        emit = Recorder()
        conn = make(context, tmp_path, projects=["acme/widget", "ghost"])
        await started(conn, emit)
        upstream.commit({"e": "e\n"})
        upstream.push()
        await conn.poll()
        await conn.stop()
        assert [e.project for e in emit.events] == ["acme/widget"]

    asyncio.run(scenario())
    assert "polling ghost failed" in caplog.text


def test_url_credentials_never_logged(context, tmp_path, caplog) -> None:
    async def scenario() -> None:
        conn = make(context, tmp_path, baseurl="http://bob:hunter2@127.0.0.1:9/git", projects=["p"])
        await started(conn, Recorder())
        await conn.stop()

    asyncio.run(scenario())
    assert "polling p failed" in caplog.text
    assert "hunter2" not in caplog.text


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"baseurl": "/x", "pol-interval": 5}, "unknown key 'pol-interval'"),
        ({}, "'baseurl' is required"),
        ({"baseurl": "/x", "poll-interval": -1}, "'poll-interval' must be"),
        ({"baseurl": "/x", "poll-interval": "often"}, "'poll-interval' must be"),
        ({"baseurl": "/x", "projects": "a"}, "'projects' must be a list"),
        ({"baseurl": "/x", "projects": ["../etc"]}, "invalid project name"),
    ],
)
def test_config_errors(config: dict, message: str, context) -> None:
    with pytest.raises(ConnectionConfigError, match=message):
        GitConnection("local", config, context)


def test_new_branch_with_a_whole_history_has_unknown_files(
    upstream: Upstream, context, tmp_path, monkeypatch
) -> None:
    from osci.connections.git import repos

    monkeypatch.setattr(repos, "NEW_BRANCH_COMMITS", 1)

    async def scenario() -> None:
        emit = Recorder()
        conn = await started(make(context, tmp_path), emit)
        git("checkout", "--quiet", "--orphan", "imported", cwd=upstream.work)
        upstream.commit({"old1": "1\n"})
        upstream.commit({"old2": "2\n"})
        upstream.push("imported")
        await conn.poll()
        await conn.stop()
        [event] = emit.events
        assert (event.branch, event.files) == ("imported", None)

    asyncio.run(scenario())


def test_new_branch_with_a_merge_counts_the_merge_diff(upstream: Upstream, context, tmp_path) -> None:
    async def scenario() -> None:
        emit = Recorder()
        conn = await started(make(context, tmp_path), emit)
        git("checkout", "--quiet", "-b", "side", cwd=upstream.work)
        upstream.commit({"side.txt": "s\n"})
        upstream.push("side")
        await conn.poll()
        git("checkout", "--quiet", "-b", "merged", "main", cwd=upstream.work)
        upstream.commit({"main.txt": "m\n"})
        git("merge", "--quiet", "--no-edit", "side", cwd=upstream.work)
        upstream.push("merged")
        await conn.poll()
        await conn.stop()
        side, created = emit.events
        assert (side.branch, created.branch) == ("side", "merged")
        # a merge counts with its diff against its first parent: it brings side.txt to this line
        assert sorted(created.files) == ["main.txt", "side.txt"]

    asyncio.run(scenario())
