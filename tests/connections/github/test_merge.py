"""The gate's merge on the API double (a real HTTP server) over a real bare repository: the
pull request is merged at the tested head with the configured method and the base branch
moves; GitHub's refusals end the item (not retried) with GitHub's message; outages are
retried; the installation token is used. And `Depends-On:` pull request URLs."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from connections.gitrepo import Upstream, git
from osci.connections.base import (
    ChangeToMerge,
    ConnectionConfigError,
    ConnectionContext,
    DependencyRef,
    MergeFailed,
)
from osci.connections.github import GitHubConnection

from ..conftest import Recorder
from . import payloads
from .apidouble import GitHubDouble, PullRequest
from .conftest import REPO, SECRET


@pytest.fixture
def upstream(tmp_path: Path, double: GitHubDouble) -> Upstream:
    """git-url's acme/widget.git with main and pull request 7 (refs/pull/7/head), served by the double."""
    root = tmp_path / "git"
    repo = Upstream(root, REPO)
    repo.commit({"README": "hello\n", "app.py": "print(1)\n"}, message="initial")
    repo.push("main")
    double.git_root = root
    return repo


def open_pull(double: GitHubDouble, repo: Upstream, number: int, files: dict[str, str]) -> str:
    git("checkout", "--quiet", "-B", f"pr{number}", "main", cwd=repo.work)
    head = repo.commit(files, message=f"pull request {number}")
    repo.push(f"HEAD:refs/pull/{number}/head")
    git("checkout", "--quiet", "main", cwd=repo.work)
    double.add_pull(REPO, PullRequest(number=number, head_sha=head, title=f"Change {number}"))
    return head


def to_merge(number: int, head: str | None, message: str = "") -> ChangeToMerge:
    return ChangeToMerge(
        project=REPO,
        branch="main",
        change=str(number),
        patchset=head,
        ref=f"refs/pull/{number}/head",
        tested="f" * 40,
        previous=None,
        message=message,
    )


def merge(conn: GitHubConnection, change: ChangeToMerge) -> str | None:
    async def run() -> str | None:
        try:
            return await conn.merge(change)
        finally:
            await conn.stop()

    return asyncio.run(run())


def refused(conn: GitHubConnection, change: ChangeToMerge) -> MergeFailed:
    with pytest.raises(MergeFailed) as caught:
        merge(conn, change)
    return caught.value


def tip(repo: Upstream, ref: str = "main") -> str:
    return git("rev-parse", ref, cwd=repo.bare).strip()


def test_merge_moves_the_base_branch_and_returns_its_new_commit(
    make_connection: Callable[..., GitHubConnection], double: GitHubDouble, upstream: Upstream
) -> None:
    before = tip(upstream)
    head = open_pull(double, upstream, 7, {"app.py": "print(2)\n"})
    sha = merge(make_connection(), to_merge(7, head, message="Build succeeded (gate)."))
    assert sha == tip(upstream)
    assert git("rev-parse", f"{sha}^1", f"{sha}^2", cwd=upstream.bare).split() == [before, head]
    message = git("log", "-1", "--format=%B", sha, cwd=upstream.bare)
    assert message.startswith("Merge pull request #7 from octocat/feature\n\nBuild succeeded (gate).")
    [call] = double.calls("PUT", r"/pulls/7/merge$")
    assert call.status == 200
    assert call.body == {"sha": head, "merge_method": "merge", "commit_message": "Build succeeded (gate)."}
    token = call.headers["authorization"].removeprefix("Bearer ")
    assert token in double.installation_tokens  # the App's installation token, not its JWT
    pull = double.pulls[(REPO, 7)]
    assert pull.merged and pull.state == "closed" and pull.merge_commit_sha == sha


@pytest.mark.parametrize("method", ["squash", "rebase"])
def test_squash_and_rebase_make_one_line_of_history(
    make_connection: Callable[..., GitHubConnection], double: GitHubDouble, upstream: Upstream, method: str
) -> None:
    upstream.commit({"README": "moved on\n"}, message="main moved")
    head = open_pull(double, upstream, 8, {"app.py": "print(3)\n"})
    upstream.push("main")
    before = tip(upstream)
    sha = merge(make_connection(**{"merge-method": method}), to_merge(8, head))
    assert sha == tip(upstream) and sha != head
    assert git("rev-list", "--parents", "-n1", sha, cwd=upstream.bare).split() == [sha, before]
    assert git("show", f"{sha}:app.py", cwd=upstream.bare) == "print(3)\n"
    [call] = double.calls("PUT", r"/pulls/8/merge$")
    assert call.body["merge_method"] == method
    assert "commit_message" not in call.body  # no message given (and rebase takes none)


def test_a_moved_head_is_refused_not_retried(
    make_connection: Callable[..., GitHubConnection], double: GitHubDouble, upstream: Upstream
) -> None:
    tested = open_pull(double, upstream, 9, {"app.py": "print(4)\n"})
    before = tip(upstream)
    double.pulls[(REPO, 9)].head_sha = "a" * 40  # a new commit was pushed after the test
    failed = refused(make_connection(), to_merge(9, tested))
    assert failed.retry is False
    assert "409" in str(failed) and "Head branch was modified" in str(failed)
    assert "changed since it was tested" in str(failed)
    assert tip(upstream) == before and not double.pulls[(REPO, 9)].merged


def test_a_conflict_is_refused(
    make_connection: Callable[..., GitHubConnection], double: GitHubDouble, upstream: Upstream
) -> None:
    head = open_pull(double, upstream, 10, {"app.py": "print('pull')\n"})
    upstream.commit({"app.py": "print('main')\n"}, message="conflicting")
    upstream.push("main")
    failed = refused(make_connection(), to_merge(10, head))
    assert failed.retry is False and "Pull Request is not mergeable" in str(failed)
    assert not double.pulls[(REPO, 10)].merged


def test_branch_protection_and_disallowed_methods_are_refused_with_githubs_reason(
    make_connection: Callable[..., GitHubConnection], double: GitHubDouble, upstream: Upstream
) -> None:
    head = open_pull(double, upstream, 11, {"app.py": "print(5)\n"})
    double.pulls[
        (REPO, 11)
    ].blocked = "At least 1 approving review is required by reviewers with write access."
    failed = refused(make_connection(), to_merge(11, head))
    assert failed.retry is False and "approving review is required" in str(failed)
    double.pulls[(REPO, 11)].blocked = None
    double.allowed_merge_methods = {"squash"}
    failed = refused(make_connection(), to_merge(11, head))
    assert failed.retry is False and "Merge commits are not allowed on this repository" in str(failed)
    assert merge(make_connection(**{"merge-method": "squash"}), to_merge(11, head)) == tip(upstream)


@pytest.mark.parametrize("token", [None, "ghp_personal"])
def test_missing_permission_is_refused_with_a_clear_message(
    make_connection: Callable[..., GitHubConnection],
    double: GitHubDouble,
    upstream: Upstream,
    token: str | None,
) -> None:
    head = open_pull(double, upstream, 12, {"app.py": "print(6)\n"})
    double.can_merge = False
    double.token = token
    conn = make_connection(token=token) if token else make_connection()
    failed = refused(conn, to_merge(12, head))
    assert failed.retry is False
    assert "403" in str(failed) and "Contents: read and write" in str(failed)
    kind = "personal access token" if token else "integration"
    assert f"Resource not accessible by {kind}" in str(failed)
    if token:
        [call] = double.calls("PUT", r"/merge$")
        assert call.headers["authorization"] == "Bearer ghp_personal"
        assert token not in str(failed)


@pytest.mark.parametrize(
    ("status", "message", "headers"),
    [
        (500, "Server Error", {}),
        (502, "Server Error", {}),
        (429, "Too many requests", {}),
        (403, "API rate limit exceeded for installation ID 77.", {"x-ratelimit-remaining": "0"}),
        (403, "You have exceeded a secondary rate limit.", {}),
    ],
)
def test_outages_and_rate_limits_are_retried(
    make_connection: Callable[..., GitHubConnection],
    double: GitHubDouble,
    upstream: Upstream,
    status: int,
    message: str,
    headers: dict[str, str],
) -> None:
    head = open_pull(double, upstream, 13, {"app.py": "print(7)\n"})
    double.fail("PUT", r"/pulls/13/merge$", 1, status, message, headers)
    failed = refused(make_connection(), to_merge(13, head))
    assert failed.retry is True and str(status) in str(failed)
    assert merge(make_connection(), to_merge(13, head)) == tip(upstream)  # the retry merges


def test_installation_token_outage_is_retried(
    make_connection: Callable[..., GitHubConnection], double: GitHubDouble, upstream: Upstream
) -> None:
    head = open_pull(double, upstream, 14, {"app.py": "print(8)\n"})
    double.fail("POST", r"/access_tokens$", 1, 503)
    assert refused(make_connection(), to_merge(14, head)).retry is True


def test_an_unreachable_api_is_retried(tmp_path: Path, app_key: Path) -> None:
    config = {"api-url": "http://127.0.0.1:9", "webhook-secret": SECRET, "token": "t", "timeout": 2}
    conn = GitHubConnection("gh", config, ConnectionContext(data_dir=tmp_path, base_url="http://x"))
    assert refused(conn, to_merge(1, "b" * 40)).retry is True


def test_a_merge_whose_answer_was_lost_is_recognised_on_the_retry(
    make_connection: Callable[..., GitHubConnection], double: GitHubDouble, upstream: Upstream
) -> None:
    head = open_pull(double, upstream, 15, {"app.py": "print(9)\n"})
    first = merge(make_connection(), to_merge(15, head))
    # GitHub now answers 405 (already merged): the pull request, read back, is merged at the head
    assert merge(make_connection(), to_merge(15, head)) == first
    assert [c.status for c in double.calls("PUT", r"/pulls/15/merge$")] == [200, 405]
    # merged, but not at the head that was tested: that is not this merge
    other = open_pull(double, upstream, 16, {"README": "x\n"})
    double.pulls[(REPO, 16)].merged = True
    double.pulls[(REPO, 16)].state = "closed"
    failed = refused(make_connection(), to_merge(16, "c" * 40))
    assert failed.retry is False and "not mergeable" in str(failed)
    assert other != "c" * 40


def test_unknown_pull_requests_and_missing_heads_are_refused(
    make_connection: Callable[..., GitHubConnection], double: GitHubDouble, upstream: Upstream
) -> None:
    failed = refused(make_connection(), to_merge(404, "d" * 40))
    assert failed.retry is False and "404" in str(failed)
    failed = refused(make_connection(), to_merge(3, None))
    assert failed.retry is False and "tested head commit is unknown" in str(failed)
    assert len(double.calls("PUT")) == 1  # only the unknown pull request was asked


def test_merge_method_is_checked(make_connection: Callable[..., GitHubConnection]) -> None:
    with pytest.raises(ConnectionConfigError, match="'merge-method' must be one of merge, squash, rebase"):
        make_connection(**{"merge-method": "fast-forward"})


# -- Depends-On


def connection(tmp_path: Path, **config: str) -> GitHubConnection:
    settings = {"webhook-secret": SECRET, "token": "t", **config}
    return GitHubConnection("gh", settings, ConnectionContext(data_dir=tmp_path, base_url="http://x"))


def test_depends_on_github_com(tmp_path: Path) -> None:
    conn = connection(tmp_path)
    expected = DependencyRef(connection="gh", project="acme/widget", change="42")
    for url in (
        "https://github.com/acme/widget/pull/42",
        "https://github.com/acme/widget/pull/42/",
        "https://github.com/acme/widget/pull/42/files",
        "https://GitHub.com/acme/widget/pull/42#issuecomment-1",
        "  https://github.com/acme/widget/pull/42  ",
    ):
        assert conn.resolve_dependency(url) == expected, url
    for url in (
        "https://github.com/acme/widget/issues/42",
        "https://github.com/acme/widget/pull/abc",
        "https://github.com/acme/widget/pull/0",
        "https://github.com/acme/pull/42",
        "https://github.com/acme/widget/pull/42/extra/more",
        "http://github.com/acme/widget/pull/42",
        "https://gitlab.com/acme/widget/pull/42",
        "https://github.example.org/acme/widget/pull/42",
        "https://github.com:8443/acme/widget/pull/42",
        "https://user@github.com/acme/widget/pull/42",
        "I0123456789abcdef0123456789abcdef01234567",
        "acme/widget#42",
        "",
    ):
        assert conn.resolve_dependency(url) is None, url


def test_depends_on_github_enterprise(tmp_path: Path) -> None:
    conn = connection(tmp_path, **{"api-url": "https://ghe.example.org/api/v3"})
    assert conn.resolve_dependency("https://ghe.example.org/team/tool/pull/5") == DependencyRef(
        "gh", "team/tool", "5"
    )
    assert conn.resolve_dependency("https://github.com/team/tool/pull/5") is None
    assert conn.resolve_dependency("https://ghe.example.org/api/v3/team/tool/pull/5") is None
    # a git-url on another host names that host's pull requests too
    mirror = connection(
        tmp_path, **{"api-url": "https://ghe.example.org/api/v3", "git-url": "https://git.example.org"}
    )
    assert mirror.resolve_dependency("https://git.example.org/team/tool/pull/6") == DependencyRef(
        "gh", "team/tool", "6"
    )


def test_the_event_of_githubs_published_payload_says_all_a_merge_needs(
    make_connection: Callable[..., GitHubConnection], double: GitHubDouble, upstream: Upstream
) -> None:
    head = open_pull(double, upstream, 17, {"app.py": "print(17)\n"})
    payload = payloads.with_number(
        payloads.with_head(payloads.for_repo(payloads.load("pull_request.opened"), REPO), head, base="main"),
        17,
    )
    headers, body = payloads.delivery("pull_request", payload, SECRET)
    recorder = Recorder()
    conn = make_connection()

    async def receive() -> None:
        await conn.start(recorder)
        await conn.webhook({k.lower(): v for k, v in headers.items()}, body)

    asyncio.run(receive())
    [event] = recorder.events
    change = ChangeToMerge(
        project=event.project,
        branch=event.branch or "",
        change=event.change,
        patchset=event.patchset,
        ref=event.ref,
        tested="f" * 40,
        previous=None,
    )
    assert (change.project, change.branch, change.change, change.patchset) == (REPO, "main", "17", head)
    assert merge(conn, change) == tip(upstream)
    assert git("rev-parse", f"{tip(upstream)}^2", cwd=upstream.bare).strip() == head
