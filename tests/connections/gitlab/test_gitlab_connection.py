"""The gitlab connection against the HTTP double of the GitLab API and real git repositories:
merge request files for `files` matchers, commit statuses, notes, retries and refusals."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from connections.gitrepo import git
from osci.connections.base import ConnectionConfigError, ConnectionContext, ReportError, WebhookRejected
from osci.connections.gitlab import GitLabConnection
from osci.model import BuildReport, Report

from ..conftest import Recorder
from ..reports import HOSTILE, sample_report
from . import payloads
from .conftest import PROJECT, GitLabProject
from .gitlab_api import GitLabAPI
from .payloads import TOKEN

BASE = "http://osci.example.org:8411"


def make(tmp_path: Path, gitlab: GitLabAPI, repos: Path, token: str | None = None) -> GitLabConnection:
    config = {
        "baseurl": gitlab.url,
        "git-url": str(repos),
        "token": token or gitlab.token,
        "webhook-token": TOKEN,
    }
    context = ConnectionContext(
        data_dir=tmp_path / "data", base_url=BASE, projects=lambda: [(PROJECT, "main")]
    )
    return GitLabConnection("gl", config, context)


def deliver(conn: GitLabConnection, event: str, data: dict, **headers: str) -> tuple[str, Recorder]:
    recorder = Recorder()

    async def go() -> str:
        await conn.start(recorder)
        return await conn.webhook(payloads.headers(event, **headers), payloads.body(data))

    return asyncio.run(go()), recorder


# -- webhooks in


def test_a_merge_request_event_carries_the_files_gitlab_lists(
    tmp_path: Path, gitlab: GitLabAPI, repos: Path, project: GitLabProject
) -> None:
    sha = project.merge_request(4, {"src/driver.c": "x\n", "docs/a.md": "y\n"})
    gitlab.add_merge_request(PROJECT, 4)
    conn = make(tmp_path, gitlab, repos)
    detail, recorder = deliver(conn, "Merge Request Hook", payloads.merge_request(PROJECT, 4, sha))
    [event] = recorder.events
    assert detail.startswith("merge-request-opened acme/widget!4") and event.uuid in detail
    assert sorted(event.files or []) == ["docs/a.md", "src/driver.c"]
    assert (event.newrev, event.patchset, event.change) == (sha, sha, "4")
    assert event.ref == "refs/merge-requests/4/head"
    assert conn.clone_url(PROJECT) == str(project.bare)
    [call] = gitlab.calls("GET", "/diffs")
    assert call.path == "/api/v4/projects/acme/widget/merge_requests/4/diffs"
    assert call.headers["private-token"] == gitlab.token
    assert call.query["per_page"] == "100"


def test_files_span_pages_and_renames(
    tmp_path: Path, gitlab: GitLabAPI, repos: Path, project: GitLabProject
) -> None:
    files = {f"many/f{i:03}.txt": f"{i}\n" for i in range(230)}
    project.commit({"old/name.txt": "rename me\n" * 20}, message="base")
    project.push("main")
    git("checkout", "--quiet", "-B", "mr-9", "main", cwd=project.work)
    (project.work / "new").mkdir()
    git("mv", "old/name.txt", "new/name.txt", cwd=project.work)
    sha = project.commit(files, message="big")
    project.push("HEAD:refs/merge-requests/9/head")
    gitlab.add_merge_request(PROJECT, 9)
    conn = make(tmp_path, gitlab, repos)
    _, recorder = deliver(conn, "Note Hook", payloads.note(PROJECT, 9, sha, "recheck"))
    [event] = recorder.events
    assert len(gitlab.calls("GET", "/diffs")) == 3
    assert set(event.files or []) == {*files, "old/name.txt", "new/name.txt"}
    assert event.type == "comment-added" and event.comment == "recheck"


def test_when_gitlab_cannot_list_the_files_every_job_runs(
    tmp_path: Path, gitlab: GitLabAPI, repos: Path, project: GitLabProject
) -> None:
    sha = project.merge_request(5, {"a": "1"})
    gitlab.add_merge_request(PROJECT, 5)
    gitlab.fail(1, 500, "/diffs")
    _, recorder = deliver(
        make(tmp_path, gitlab, repos), "Merge Request Hook", payloads.merge_request(PROJECT, 5, sha)
    )
    assert recorder.events[0].files is None


def test_a_slow_api_does_not_hold_the_webhook(
    tmp_path: Path, gitlab: GitLabAPI, repos: Path, project: GitLabProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("osci.connections.gitlab.connection.FILES_TIMEOUT", 0.2)
    sha = project.merge_request(5, {"a": "1"})
    gitlab.add_merge_request(PROJECT, 5)
    gitlab.stall = ("/diffs", 1.0)
    _, recorder = deliver(
        make(tmp_path, gitlab, repos), "Merge Request Hook", payloads.merge_request(PROJECT, 5, sha)
    )
    assert recorder.events[0].files is None  # unknown: every job runs


def test_an_event_for_a_project_osci_does_not_test_asks_gitlab_nothing(
    tmp_path: Path, gitlab: GitLabAPI, repos: Path
) -> None:
    _, recorder = deliver(
        make(tmp_path, gitlab, repos),
        "Merge Request Hook",
        payloads.merge_request("other/thing", 1, "3" * 40),
    )
    assert recorder.events[0].project == "other/thing" and recorder.events[0].files is None
    assert gitlab.requests == []


def test_a_wrong_token_emits_nothing(tmp_path: Path, gitlab: GitLabAPI, repos: Path) -> None:
    with pytest.raises(WebhookRejected) as info:
        deliver(make(tmp_path, gitlab, repos), "Merge Request Hook", {"x": 1}, token="nope")
    assert info.value.status == 401
    assert gitlab.requests == []


def test_close_and_merge_need_no_api_call(tmp_path: Path, gitlab: GitLabAPI, repos: Path) -> None:
    conn = make(tmp_path, gitlab, repos)
    for action in ("close", "merge"):
        _, recorder = deliver(
            conn, "Merge Request Hook", payloads.merge_request(PROJECT, 4, "3" * 40, action=action)
        )
        assert recorder.events[0].type == f"merge-request-{action}d"
    assert gitlab.requests == []


# -- reports out


def report_for(sha: str, **fields) -> Report:
    values = dict(
        project=PROJECT,
        change="4",
        patchset=sha,
        newrev=sha,
        branch="main",
        ref="refs/merge-requests/4/head",
        delivery="osci-report-17",
    )
    values.update(fields)
    return sample_report(**values)


def run(conn: GitLabConnection, report: Report, options: dict | None = None) -> None:
    asyncio.run(conn.report(report, options if options is not None else {}))


def test_statuses_running_then_failed(
    tmp_path: Path, gitlab: GitLabAPI, repos: Path, project: GitLabProject
) -> None:
    sha = project.merge_request(4, {"a": "1"})
    gitlab.add_merge_request(PROJECT, 4)
    conn = make(tmp_path, gitlab, repos)
    run(conn, report_for(sha, slot="start", result=None, builds=[]))
    run(conn, report_for(sha))
    assert gitlab.statuses_for(sha) == [("osci/check", "running"), ("osci/check", "failed")]
    first, second = gitlab.calls("POST", "/statuses/")
    assert first.path == f"/api/v4/projects/acme/widget/statuses/{sha}"
    assert first.body == {
        "state": "running",
        "name": "osci/check",
        "target_url": f"{BASE}/buildset/bs-1",
        "description": "osci is testing this change",
    }
    assert second.body["state"] == "failed"
    assert second.body["description"] == "Build failed: unit"  # perf is non-voting; tempest is infrastructure
    assert gitlab.calls("POST", "/notes") == []  # comment: false by default


def test_a_pushed_branch_gets_its_ref(
    tmp_path: Path, gitlab: GitLabAPI, repos: Path, project: GitLabProject
) -> None:
    sha = project.head()
    run(
        make(tmp_path, gitlab, repos),
        report_for(sha, change=None, patchset=None, ref="refs/heads/main", result="SUCCESS"),
    )
    [call] = gitlab.calls("POST", "/statuses/")
    assert call.body["ref"] == "main" and call.body["state"] == "success"


def test_infrastructure_errors_never_blame_the_change(
    tmp_path: Path, gitlab: GitLabAPI, repos: Path, project: GitLabProject
) -> None:
    sha = project.merge_request(4, {"a": "1"})
    gitlab.add_merge_request(PROJECT, 4)
    builds = [BuildReport("tempest", "b4", "RETRY_LIMIT", True, 12, f"{BASE}/logs/b4/", attempts=3)]
    run(
        make(tmp_path, gitlab, repos), report_for(sha, result="RETRY_LIMIT", builds=builds), {"comment": True}
    )
    [status] = gitlab.calls("POST", "/statuses/")
    assert status.body["state"] == "canceled"
    assert "infrastructure error" in status.body["description"].lower()
    [note] = gitlab.notes(PROJECT, 4)
    assert "**Infrastructure error: setup kept failing" in note["body"]
    assert "not a test failure" in note["body"] and "FAILURE |" not in note["body"]


def test_a_note_with_the_job_table(
    tmp_path: Path, gitlab: GitLabAPI, repos: Path, project: GitLabProject
) -> None:
    sha = project.merge_request(4, {"a": "1"})
    gitlab.add_merge_request(PROJECT, 4)
    run(make(tmp_path, gitlab, repos), report_for(sha), {"comment": True})
    [note] = gitlab.notes(PROJECT, 4)
    body = note["body"]
    assert "| job | result | duration | logs |" in body
    assert "| unit | FAILURE | 1m 23s | [logs](http://127.0.0.1:8080/logs/b1/) |" in body
    assert "perf *(non-voting)*" in body
    assert "javascript:" not in body  # a log link that is not http(s) is left out
    assert "RETRY\\_LIMIT (infrastructure error after 3 attempts, not a test failure)" in body
    assert "Infrastructure errors (not test failures; the change is not blamed):" in body
    assert "<script>" not in body and "\\<script\\>" in body
    assert f"[this buildset on osci]({BASE}/buildset/bs-1)" in body
    assert body.rstrip().endswith("<!-- osci-delivery: osci-report-17/item-1 -->")


def test_500s_are_retried_and_the_note_lands_once(
    tmp_path: Path, gitlab: GitLabAPI, repos: Path, project: GitLabProject
) -> None:
    sha = project.merge_request(4, {"a": "1"})
    gitlab.add_merge_request(PROJECT, 4)
    conn = make(tmp_path, gitlab, repos)
    report = report_for(sha, result="SUCCESS", builds=[])
    gitlab.fail(2, 500, "/statuses/")
    for _ in range(2):
        with pytest.raises(ReportError, match="HTTP 500"):
            run(conn, report, {"comment": True})
    gitlab.fail(1, 429, "/notes")
    with pytest.raises(ReportError, match="HTTP 429"):
        run(conn, report, {"comment": True})  # the status landed, the note did not
    run(conn, report, {"comment": True})  # the status again: GitLab says it is already so
    run(conn, report, {"comment": True})  # as if the answer had been lost: no second note
    assert gitlab.statuses_for(sha) == [("osci/check", "success")]
    assert len(gitlab.notes(PROJECT, 4)) == 1
    assert [r.status for r in gitlab.calls("POST", "/statuses/")] == [500, 500, 201, 400, 400]


def test_a_different_report_gets_its_own_note(
    tmp_path: Path, gitlab: GitLabAPI, repos: Path, project: GitLabProject
) -> None:
    sha = project.merge_request(4, {"a": "1"})
    gitlab.add_merge_request(PROJECT, 4)
    conn = make(tmp_path, gitlab, repos)
    run(
        conn,
        report_for(sha, slot="start", result=None, builds=[], delivery="osci-report-1"),
        {"comment": True},
    )
    run(conn, report_for(sha, delivery="osci-report-2"), {"comment": True})
    assert [n["body"].splitlines()[0] for n in gitlab.notes(PROJECT, 4)] == [
        "**osci** `check`: **Testing started.**",
        "**osci** `check`: **Build failed.**",
    ]


@pytest.mark.parametrize(("status", "hint"), [(401, "token"), (404, "unknown to GitLab")])
def test_refusals_are_configuration_errors(
    tmp_path: Path, gitlab: GitLabAPI, repos: Path, project: GitLabProject, status: int, hint: str
) -> None:
    sha = project.head()
    conn = make(tmp_path, gitlab, repos, token="glpat-wrong" if status == 401 else None)
    report = report_for(sha, project="acme/missing") if status == 404 else report_for(sha)
    with pytest.raises(ConnectionConfigError, match=hint) as info:
        run(conn, report)
    assert f"HTTP {status}" in str(info.value)
    assert "glpat" not in str(info.value)


def test_a_forbidden_token_is_a_configuration_error(
    tmp_path: Path, gitlab: GitLabAPI, repos: Path, project: GitLabProject
) -> None:
    gitlab.fail(1, 403, "/statuses/")
    with pytest.raises(ConnectionConfigError, match="HTTP 403.*api scope"):
        run(make(tmp_path, gitlab, repos), report_for(project.head()))


def test_gitlab_unreachable_is_retried(tmp_path: Path, repos: Path, project: GitLabProject) -> None:
    with GitLabAPI(repos) as gone:
        url = gone.url
    config = {"baseurl": url, "git-url": str(repos), "token": "t", "webhook-token": TOKEN}
    conn = GitLabConnection("gl", config, ConnectionContext(data_dir=tmp_path, base_url=BASE))
    with pytest.raises(ReportError, match="ConnectError"):
        run(conn, report_for(project.head()))


def test_reporting_without_a_token_is_a_configuration_error(
    tmp_path: Path, gitlab: GitLabAPI, repos: Path
) -> None:
    config = {"baseurl": gitlab.url, "webhook-token": TOKEN}
    conn = GitLabConnection("gl", config, ConnectionContext(data_dir=tmp_path, base_url=BASE))
    with pytest.raises(ConnectionConfigError, match="needs a 'token'"):
        run(conn, report_for("3" * 40))
    run(conn, report_for("3" * 40), {"status": False})  # nothing asked, nothing needed


def test_hostile_names_in_the_note(
    tmp_path: Path, gitlab: GitLabAPI, repos: Path, project: GitLabProject
) -> None:
    sha = project.merge_request(4, {"a": "1"})
    gitlab.add_merge_request(PROJECT, 4)
    hostile = BuildReport(
        f"job|{HOSTILE}](http://evil)", "b9", "FAILURE", True, 1, "http://x/logs/ b9 (evil)"
    )
    run(make(tmp_path, gitlab, repos), report_for(sha, builds=[hostile]), {"comment": True})
    body = gitlab.notes(PROJECT, 4)[0]["body"]
    row = next(line for line in body.splitlines() if line.startswith("| job"))
    assert row.count(" | ") == 3  # the name cannot add a column
    assert "\\](http://evil)" in body and "<script>" not in body  # the bracket is escaped: no link
    assert "[logs]" not in row  # a log URL with spaces or brackets is not made a link
    assert json.dumps(body)  # plain text all the way
