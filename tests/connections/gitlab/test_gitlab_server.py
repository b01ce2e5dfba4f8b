"""End to end: a real `osci server` with a gitlab connection, GitLab's documented webhook
payloads posted to it, and the HTTP double of the GitLab API receiving statuses and notes."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from connections.gitrepo import git
from server.conftest import ServerProcess, wait_for

from . import payloads
from .conftest import PROJECT, GitLabProject
from .gitlab_api import GitLabAPI
from .payloads import TOKEN

CONFIG = """
- connection:
    name: gitlab
    driver: gitlab
    baseurl: "@GITLAB@"
    git-url: "@ROOT@/repos"
    token: "@API_TOKEN@"
    webhook-token: "@HOOK_TOKEN@"
- pipeline:
    name: check
    trigger:
      gitlab:
        - event: [merge-request-opened, merge-request-updated, merge-request-reopened]
        - event: comment-added
          comment: (?i)^\\s*recheck\\s*$
    start: {gitlab: {}}
    success: {gitlab: {comment: true}}
    failure: {gitlab: {comment: true}}
    dequeue: {gitlab: {}}
- project: {name: acme/widget}
"""

IN_REPO = """
- job:
    name: unit
    run:
      script: echo "unit tests pass"
- job:
    name: driver
    files: ['^src/driver/']
    run:
      script: |
        if [ -f slow ]; then sleep 120; fi
        echo "driver tests pass"
- project: {check: {jobs: [unit, driver]}}
"""


@pytest.fixture
def served(tmp_path: Path, project: GitLabProject, gitlab: GitLabAPI) -> Iterator[ServerProcess]:
    project.commit({".osci.yaml": textwrap.dedent(IN_REPO).lstrip()}, message="ci")
    project.push("main")
    text = (
        CONFIG.replace("@GITLAB@", gitlab.url)
        .replace("@API_TOKEN@", gitlab.token)
        .replace("@HOOK_TOKEN@", TOKEN)
        .replace("@ROOT@", str(tmp_path))
    )
    config = tmp_path / "osci.yaml"
    config.write_text(textwrap.dedent(text).lstrip())
    server = ServerProcess(tmp_path, config)
    server.start()
    try:
        yield server
    finally:
        server.terminate()
        server.client.close()


def post_hook(server: ServerProcess, event: str, data: dict[str, Any], **headers: str) -> httpx.Response:
    sent = payloads.headers(event, **headers)
    return server.client.post("/api/connection/gitlab/payload", content=payloads.body(data), headers=sent)


def open_mr(project: GitLabProject, gitlab: GitLabAPI, iid: int, files: dict[str, str]) -> str:
    sha = project.merge_request(iid, files)
    gitlab.add_merge_request(PROJECT, iid)
    return sha


def states(gitlab: GitLabAPI, sha: str) -> list[str]:
    return [state for name, state in gitlab.statuses_for(sha) if name == "osci/check"]


def test_a_merge_request_is_built_and_reported(
    served: ServerProcess, project: GitLabProject, gitlab: GitLabAPI
):
    sha = open_mr(project, gitlab, 1, {"src/driver/nic.c": "int x;\n"})
    answer = post_hook(
        served, "Merge Request Hook", payloads.merge_request(PROJECT, 1, sha), idempotency_key="d-1"
    )
    assert answer.status_code == 202, answer.text
    assert answer.json()["detail"].startswith("merge-request-opened acme/widget!1")
    builds = served.wait_builds(2, change="1")
    assert {(b["job"], b["result"]) for b in builds} == {("unit", "SUCCESS"), ("driver", "SUCCESS")}
    gitlab.wait(lambda: states(gitlab, sha) == ["running", "success"], what="running, then success")
    final = [s for s in gitlab.statuses if s["sha"] == sha][-1]
    assert final["description"] == "Build succeeded: 2 jobs"
    target = final["target_url"]
    assert target.startswith(served.url + "/buildset/")
    assert served.client.get(target).status_code == 200  # the dashboard page
    buildset = served.client.get("/api/buildset/" + target.rsplit("/", 1)[1]).json()
    assert buildset["item"]["change"] == "1"
    # the note: the job table with working log links
    note = gitlab.wait(lambda: gitlab.notes(PROJECT, 1), what="a note")[0]["body"]
    for build in builds:
        assert f"[logs]({build['log_url']})" in note
        assert served.client.get(build["log_url"]).status_code == 200
        log = served.client.get(build["log_url"] + "job-output.txt")
        assert log.status_code == 200 and "tests pass" in log.text
    [event] = served.events()
    assert event["type"] == "merge-request-opened" and event["change"] == "1"
    # the same delivery again (GitLab retries when our answer is slow): recorded once, built once
    again = post_hook(
        served, "Merge Request Hook", payloads.merge_request(PROJECT, 1, sha), idempotency_key="d-1"
    )
    assert again.status_code == 202
    assert len(served.events()) == 1
    assert len(served.builds(change="1")) == 2


def test_files_decide_which_jobs_run(served: ServerProcess, project: GitLabProject, gitlab: GitLabAPI):
    sha = open_mr(project, gitlab, 2, {"docs/readme.md": "words\n"})
    assert post_hook(served, "Merge Request Hook", payloads.merge_request(PROJECT, 2, sha)).status_code == 202
    [build] = served.wait_builds(1, change="2")
    assert build["job"] == "unit"
    gitlab.wait(lambda: states(gitlab, sha) == ["running", "success"], what="the statuses")
    assert served.builds(change="2", job="driver") == []


def test_a_wrong_token_is_refused_and_records_nothing(
    served: ServerProcess, project: GitLabProject, gitlab: GitLabAPI
):
    sha = open_mr(project, gitlab, 3, {"src/driver/a.c": "x\n"})
    for token in ("wrong", None):
        answer = post_hook(served, "Merge Request Hook", payloads.merge_request(PROJECT, 3, sha), token=token)
        assert answer.status_code == 401
        assert "X-Gitlab-Token" in answer.json()["error"]
    malformed = served.client.post(
        "/api/connection/gitlab/payload",
        content=b"{not json",
        headers=payloads.headers("Merge Request Hook"),
    )
    assert malformed.status_code == 400
    assert served.events() == []
    assert gitlab.requests == []


def test_recheck_builds_again(served: ServerProcess, project: GitLabProject, gitlab: GitLabAPI):
    sha = open_mr(project, gitlab, 4, {"src/driver/a.c": "x\n"})
    post_hook(served, "Merge Request Hook", payloads.merge_request(PROJECT, 4, sha))
    served.wait_builds(2, change="4")
    gitlab.wait(lambda: states(gitlab, sha) == ["running", "success"], what="the first statuses")
    chatter = post_hook(served, "Note Hook", payloads.note(PROJECT, 4, sha, "looks good", note_id=1))
    assert chatter.status_code == 202
    recheck = post_hook(served, "Note Hook", payloads.note(PROJECT, 4, sha, "recheck", note_id=2))
    assert recheck.status_code == 202 and recheck.json()["detail"].startswith("comment-added acme/widget!4")
    served.wait_builds(4, change="4")
    gitlab.wait(
        lambda: states(gitlab, sha) == ["running", "success", "running", "success"],
        what="the second statuses",
    )
    types = sorted(e["type"] for e in served.events())
    assert types == ["comment-added", "comment-added", "merge-request-opened"]
    assert len(gitlab.notes(PROJECT, 4)) == 2  # one per build; osci's own notes trigger nothing


def test_a_failing_status_api_is_retried_until_the_status_lands_once(
    served: ServerProcess, project: GitLabProject, gitlab: GitLabAPI
):
    sha = open_mr(project, gitlab, 5, {"docs/x.md": "x\n"})
    gitlab.fail(2, 500, f"/statuses/{sha}")
    post_hook(served, "Merge Request Hook", payloads.merge_request(PROJECT, 5, sha))
    served.wait_builds(1, change="5")
    gitlab.wait(lambda: states(gitlab, sha) == ["running", "success"], timeout=90, what="the statuses")
    posted = [r.status for r in gitlab.calls("POST", f"/statuses/{sha}")]
    assert posted[:3] == [500, 500, 201]  # two failures, then the running status, once
    assert posted.count(201) == 2
    assert "report" in served.log() and "failed (try 1)" in served.log()


def test_closing_a_merge_request_dequeues_its_running_build(
    served: ServerProcess, project: GitLabProject, gitlab: GitLabAPI
):
    sha = open_mr(project, gitlab, 6, {"src/driver/a.c": "x\n", "slow": "yes\n"})
    post_hook(served, "Merge Request Hook", payloads.merge_request(PROJECT, 6, sha))
    wait_for(
        lambda: served.builds(change="6", job="driver", state="running"), 60, what="the slow build to run"
    )
    closed = post_hook(served, "Merge Request Hook", payloads.merge_request(PROJECT, 6, sha, action="close"))
    assert closed.status_code == 202 and closed.json()["detail"].startswith("merge-request-closed")
    [build] = served.wait_builds(1, change="6", job="driver")
    assert build["result"] == "ABORTED"
    gitlab.wait(lambda: states(gitlab, sha)[-1:] == ["canceled"], what="a canceled status")
    final = [s for s in gitlab.statuses if s["sha"] == sha][-1]
    assert "Aborted" in final["description"]
    assert served.client.get("/api/status").json()["pipelines"][0]["queues"][0]["items"] == []


def test_a_reload_with_options_the_driver_does_not_know_keeps_the_running_configuration(
    served: ServerProcess, project: GitLabProject, gitlab: GitLabAPI
):
    good = served.config.read_text()
    served.config.write_text(
        good.replace("success: {gitlab: {comment: true}}", "success: {gitlab: {vote: 1}}")
    )
    answer = served.client.post("/api/reload", headers=served.auth()).json()
    assert answer["ok"] is False
    assert "unknown option 'vote'" in answer["errors"][0]["message"]
    sha = open_mr(project, gitlab, 7, {"docs/x.md": "x\n"})
    post_hook(served, "Merge Request Hook", payloads.merge_request(PROJECT, 7, sha))
    gitlab.wait(lambda: gitlab.notes(PROJECT, 7), what="a note from the configuration still running")


def test_a_trigger_the_driver_does_not_know_stops_the_server_starting(tmp_path: Path, gitlab: GitLabAPI):
    text = CONFIG.replace("event: comment-added", "event: patchset-created").replace("@GITLAB@", gitlab.url)
    config = tmp_path / "osci.yaml"
    config.write_text(textwrap.dedent(text).lstrip().replace("@ROOT@", str(tmp_path)))
    server = ServerProcess(tmp_path, config)
    try:
        with pytest.raises(AssertionError, match="server exited with 1"):
            server.start()
        assert "has no event 'patchset-created'" in server.log()
        assert f"{config}:" in server.log()  # the file and line of the filter
    finally:
        server.client.close()


def test_new_commits_supersede_the_running_build(
    served: ServerProcess, project: GitLabProject, gitlab: GitLabAPI
):
    first = open_mr(project, gitlab, 8, {"src/driver/a.c": "x\n", "slow": "yes\n"})
    post_hook(served, "Merge Request Hook", payloads.merge_request(PROJECT, 8, first))
    wait_for(
        lambda: served.builds(change="8", job="driver", state="running"), 60, what="the slow build to run"
    )
    git("checkout", "--quiet", "mr-8", cwd=project.work)
    git("rm", "--quiet", "slow", cwd=project.work)
    second = project.commit({"src/driver/a.c": "y\n"}, message="faster")
    project.push("--force", "HEAD:refs/merge-requests/8/head")
    git("checkout", "--quiet", "main", cwd=project.work)
    update = payloads.merge_request(PROJECT, 8, second, action="update", oldrev=first)
    assert post_hook(served, "Merge Request Hook", update).status_code == 202
    gitlab.wait(lambda: states(gitlab, second) == ["running", "success"], what="the new commit's statuses")
    gitlab.wait(lambda: states(gitlab, first)[-1:] == ["canceled"], what="the old commit's status canceled")
    results = {(b["job"], b["result"]) for b in served.builds(change="8") if b["result"]}
    assert ("driver", "ABORTED") in results and ("driver", "SUCCESS") in results
