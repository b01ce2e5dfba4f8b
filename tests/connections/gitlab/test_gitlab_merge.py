"""The gate's merge on the GitLab API double (a real HTTP server) over a real bare repository:
the merge request, described by the event its published webhook payload makes, is merged at
the tested head and the target branch moves; GitLab's refusals end the item (not retried)
with its message; outages are retried. And `Depends-On:` merge request URLs, subgroups too."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from connections.gitrepo import git
from osci.connections.base import (
    ChangeToMerge,
    ConnectionConfigError,
    ConnectionContext,
    DependencyRef,
    MergeFailed,
)
from osci.connections.gitlab import GitLabConnection
from osci.model import Event

from ..conftest import Recorder
from . import payloads
from .conftest import PROJECT, GitLabProject
from .gitlab_api import GitLabAPI
from .payloads import TOKEN


def make(
    tmp_path: Path, gitlab_url: str, repos: Path, token: str | None = "glpat-test-token", **extra: object
) -> GitLabConnection:
    config: dict[str, object] = {
        "baseurl": gitlab_url,
        "git-url": str(repos),
        "webhook-token": TOKEN,
        **extra,
    }
    if token is not None:
        config["token"] = token
    context = ConnectionContext(data_dir=tmp_path / "data", base_url="http://osci.example.org")
    return GitLabConnection("gl", config, context)


def event_of(conn: GitLabConnection, iid: int, sha: str) -> Event:
    """What the connection makes of GitLab's published merge request hook for this merge request."""
    recorder = Recorder()

    async def go() -> None:
        await conn.start(recorder)
        await conn.webhook(
            payloads.headers("Merge Request Hook"), payloads.body(payloads.merge_request(PROJECT, iid, sha))
        )

    asyncio.run(go())
    [event] = recorder.events
    return event


def to_merge(event: Event) -> ChangeToMerge:
    return ChangeToMerge(
        project=event.project,
        branch=event.branch or "main",
        change=event.change,
        patchset=event.patchset,
        ref=event.ref,
        tested="f" * 40,
        previous=None,
        message="Build succeeded (gate).",
    )


def merge(conn: GitLabConnection, change: ChangeToMerge) -> str | None:
    return asyncio.run(conn.merge(change))


def refused(conn: GitLabConnection, change: ChangeToMerge) -> MergeFailed:
    with pytest.raises(MergeFailed) as caught:
        merge(conn, change)
    return caught.value


def tip(project: GitLabProject) -> str:
    return git("rev-parse", "refs/heads/main", cwd=project.bare).strip()


def ready(
    tmp_path: Path, gitlab: GitLabAPI, repos: Path, project: GitLabProject, iid: int, **extra: object
) -> tuple[GitLabConnection, ChangeToMerge]:
    sha = project.merge_request(iid, {"src/app.py": f"print({iid})\n"})
    gitlab.add_merge_request(PROJECT, iid)
    conn = make(tmp_path, gitlab.url, repos, **extra)
    return conn, to_merge(event_of(conn, iid, sha))


def test_merge_moves_the_target_branch_and_returns_its_new_commit(
    tmp_path: Path, gitlab: GitLabAPI, repos: Path, project: GitLabProject
) -> None:
    before = tip(project)
    conn, change = ready(tmp_path, gitlab, repos, project, 3)
    assert change.change == "3" and change.patchset and change.branch == "main"
    sha = merge(conn, change)
    assert sha == tip(project)
    assert git("rev-parse", f"{sha}^1", f"{sha}^2", cwd=project.bare).split() == [before, change.patchset]
    [call] = gitlab.calls("PUT", "/merge")
    assert call.path == f"/api/v4/projects/{PROJECT}/merge_requests/3/merge"
    assert call.body == {"sha": change.patchset}  # the merge request's own squash and branch settings apply
    assert call.headers["private-token"] == "glpat-test-token"
    assert gitlab.merge_requests[(PROJECT, 3)].state == "merged"


def test_squash_and_remove_source_branch_when_configured(
    tmp_path: Path, gitlab: GitLabAPI, repos: Path, project: GitLabProject
) -> None:
    before = tip(project)
    conn, change = ready(tmp_path, gitlab, repos, project, 4, squash=True, **{"remove-source-branch": True})
    sha = merge(conn, change)
    [call] = gitlab.calls("PUT", "/merge")
    assert call.body == {"sha": change.patchset, "squash": True, "should_remove_source_branch": True}
    mr = gitlab.merge_requests[(PROJECT, 4)]
    assert sha == tip(project) == mr.merge_commit_sha and mr.should_remove_source_branch is True
    squashed = mr.squash_commit_sha
    assert git("rev-parse", f"{sha}^1", f"{sha}^2", cwd=project.bare).split() == [before, squashed]
    assert git("show", f"{sha}:src/app.py", cwd=project.bare) == "print(4)\n"


def test_a_moved_head_is_refused_not_retried(
    tmp_path: Path, gitlab: GitLabAPI, repos: Path, project: GitLabProject
) -> None:
    conn, change = ready(tmp_path, gitlab, repos, project, 5)
    before = tip(project)
    git("checkout", "--quiet", "mr-5", cwd=project.work)  # a commit pushed after the test
    newer = project.commit({"src/app.py": "print('newer')\n"}, message="newer")
    project.push("HEAD:refs/merge-requests/5/head")
    git("checkout", "--quiet", "main", cwd=project.work)
    failed = refused(conn, change)
    assert failed.retry is False
    assert f"HTTP 409: SHA does not match HEAD of source branch: {newer}" in str(failed)
    assert "changed since it was tested" in str(failed)
    assert tip(project) == before and gitlab.merge_requests[(PROJECT, 5)].state == "opened"


def test_conflicts_drafts_and_blocked_merge_requests_are_refused(
    tmp_path: Path, gitlab: GitLabAPI, repos: Path, project: GitLabProject
) -> None:
    conn, change = ready(tmp_path, gitlab, repos, project, 6)
    gitlab.merge_requests[(PROJECT, 6)].draft = True
    failed = refused(conn, change)
    assert (
        failed.retry is False and "HTTP 405: 405 Method Not Allowed" in str(failed) and "draft" in str(failed)
    )
    gitlab.merge_requests[(PROJECT, 6)].draft = False
    project.commit({"src/app.py": "print('main')\n"}, message="conflicting")
    project.push("main")
    failed = refused(conn, change)
    assert failed.retry is False and "HTTP 406: Branch cannot be merged" in str(failed)
    assert "conflicts" in str(failed)


def test_missing_permission_is_refused_with_a_clear_message(
    tmp_path: Path, gitlab: GitLabAPI, repos: Path, project: GitLabProject
) -> None:
    conn, change = ready(tmp_path, gitlab, repos, project, 7)
    gitlab.can_merge = False
    failed = refused(conn, change)
    assert failed.retry is False and "HTTP 401" in str(failed)
    assert "a role allowed to merge" in str(failed)
    gitlab.fail(1, 403, "/merge")
    failed = refused(conn, change)
    assert failed.retry is False and "HTTP 403" in str(failed) and "api scope" in str(failed)
    assert "glpat-test-token" not in str(failed)
    no_token = make(tmp_path, gitlab.url, repos, token=None)
    failed = refused(no_token, change)
    assert failed.retry is False and "merging needs a 'token'" in str(failed)


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_outages_are_retried(
    tmp_path: Path, gitlab: GitLabAPI, repos: Path, project: GitLabProject, status: int
) -> None:
    conn, change = ready(tmp_path, gitlab, repos, project, 8)
    gitlab.fail(1, status, "/merge")
    failed = refused(conn, change)
    assert failed.retry is True and f"HTTP {status}" in str(failed)
    assert merge(conn, change) == tip(project)  # the retry merges


def test_an_unreachable_gitlab_is_retried(tmp_path: Path, repos: Path) -> None:
    conn = make(tmp_path, "http://127.0.0.1:9", repos)
    change = ChangeToMerge(PROJECT, "main", "1", "a" * 40, "refs/merge-requests/1/head", "f" * 40, None)
    assert refused(conn, change).retry is True


def test_a_merge_whose_answer_was_lost_is_recognised_on_the_retry(
    tmp_path: Path, gitlab: GitLabAPI, repos: Path, project: GitLabProject
) -> None:
    conn, change = ready(tmp_path, gitlab, repos, project, 9)
    first = merge(conn, change)
    assert merge(conn, change) == first  # GitLab says 405 now; the merge request is merged at the head
    assert [c.status for c in gitlab.calls("PUT", "/merge")] == [200, 405]
    other = ChangeToMerge(PROJECT, "main", "9", "c" * 40, None, "f" * 40, None)
    failed = refused(conn, other)  # merged, but not at this head: not this merge
    assert failed.retry is False and "405" in str(failed)


def test_merge_options_are_checked(tmp_path: Path, repos: Path) -> None:
    with pytest.raises(ConnectionConfigError, match="'squash' must be true or false"):
        make(tmp_path, "https://gitlab.example.com", repos, squash="yes")
    with pytest.raises(ConnectionConfigError, match="'remove-source-branch' must be true or false"):
        make(tmp_path, "https://gitlab.example.com", repos, **{"remove-source-branch": 1})


# -- Depends-On


def test_depends_on_merge_request_urls(tmp_path: Path, repos: Path) -> None:
    conn = make(tmp_path, "https://gitlab.example.com", repos)
    for url, project, iid in (
        ("https://gitlab.example.com/acme/widget/-/merge_requests/12", "acme/widget", "12"),
        (
            "https://gitlab.example.com/acme/platform/net/driver/-/merge_requests/3",
            "acme/platform/net/driver",
            "3",
        ),
        ("https://GITLAB.example.com/acme/widget/-/merge_requests/12/diffs", "acme/widget", "12"),
        ("https://gitlab.example.com/acme/widget/-/merge_requests/12/#note_5", "acme/widget", "12"),
        ("https://gitlab.example.com/acme/my.lib_2/-/merge_requests/7?tab=commits", "acme/my.lib_2", "7"),
    ):
        assert conn.resolve_dependency(url) == DependencyRef("gl", project, iid), url
    for url in (
        "https://gitlab.com/acme/widget/-/merge_requests/12",
        "http://gitlab.example.com/acme/widget/-/merge_requests/12",
        "https://gitlab.example.com:8443/acme/widget/-/merge_requests/12",
        "https://gitlab.example.com/acme/widget/-/issues/12",
        "https://gitlab.example.com/acme/widget/merge_requests/12",
        "https://gitlab.example.com/widget/-/merge_requests/12",
        "https://gitlab.example.com/acme/widget/-/merge_requests/0",
        "https://gitlab.example.com/acme/widget/-/merge_requests/x",
        "https://gitlab.example.com/acme/../widget/-/merge_requests/1",
        "https://github.com/acme/widget/pull/12",
        "I0123456789abcdef0123456789abcdef01234567",
        "acme/widget!12",
    ):
        assert conn.resolve_dependency(url) is None, url


def test_depends_on_under_a_relative_url_root(tmp_path: Path, repos: Path) -> None:
    conn = make(tmp_path, "https://example.org/gitlab/", repos)
    assert conn.resolve_dependency(
        "https://example.org/gitlab/team/sub/tool/-/merge_requests/2"
    ) == DependencyRef("gl", "team/sub/tool", "2")
    assert conn.resolve_dependency("https://example.org/team/tool/-/merge_requests/2") is None
