"""End to end: the real `osci server` process, signed GitHub webhooks (the published payloads)
posted to it, a bare repository holding `refs/pull/N/head`, and the API double receiving the
check runs."""

from __future__ import annotations

import contextlib
import json
import re
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from server.conftest import Repo, ServerProcess, wait_for

from . import payloads
from .apidouble import GitHubDouble, PullRequest
from .githttp import GitHttpServer

SECRET = "webhook s3cret"
REPO = "acme/widget"

CONFIG = """
- connection:
    name: gh
    driver: github
    api-url: @API@
    git-url: @ROOT@/repos
    webhook-secret: "webhook s3cret"
    app-id: @APP@
    private-key: @ROOT@/app.pem
- pipeline:
    name: check
    trigger:
      gh:
        - event: pull_request
          action: [opened, synchronize, reopened]
        - event: issue_comment
          comment: (?i)^\\s*recheck\\s*$
    start: {gh: {}}
    success: {gh: {}}
    failure: {gh: {}}
    error: {gh: {}}
    dequeue: {gh: {}}
- project: {name: acme/widget}
"""

IN_REPO = """
- job:
    name: unit
    run:
      script: |
        echo "unit tests of $OSCI_PROJECT"
        sh ./test.sh
- project: {check: {jobs: [unit]}}
"""


@pytest.fixture
def github(tmp_path: Path) -> Iterator[tuple[GitHubDouble, Repo, ServerProcess]]:
    with GitHubDouble() as double, serving(tmp_path, double, f"{tmp_path}/repos") as (repo, server):
        yield double, repo, server


@contextlib.contextmanager
def serving(tmp_path: Path, double: GitHubDouble, git_url: str) -> Iterator[tuple[Repo, ServerProcess]]:
    """The repository (bare, under tmp_path/repos) and a running server whose GitHub
    connection clones from `git_url`."""
    (tmp_path / "app.pem").write_bytes(double.private_key_pem())
    repo = Repo(tmp_path, REPO)
    repo.write(".osci.yaml", IN_REPO)
    repo.write("test.sh", "echo all good\n")
    repo.commit("initial")
    repo.push()
    config = tmp_path / "osci.yaml"
    text = CONFIG.replace("@API@", double.url).replace("@APP@", str(double.app_id))
    text = text.replace("@ROOT@/repos", git_url)
    config.write_text(textwrap.dedent(text).lstrip().replace("@ROOT@", str(tmp_path)))
    server = ServerProcess(tmp_path, config)
    try:
        server.start()
        yield repo, server
    finally:
        if server.process and server.process.poll() is None:
            server.process.kill()
            server.process.wait(10)
        server.client.close()


def open_pull(double: GitHubDouble, repo: Repo, number: int, script: str, files: list[str]) -> str:
    """A pull request: a commit on top of main, pushed to refs/pull/<number>/head."""
    repo._git(repo.work, "checkout", "-q", "-B", f"pr{number}", "main")
    repo.write("test.sh", script)
    head = repo.commit(f"pull request {number}")
    repo._git(repo.work, "push", "-q", "origin", f"HEAD:refs/pull/{number}/head")
    repo._git(repo.work, "checkout", "-q", "main")
    double.add_pull(REPO, PullRequest(number=number, head_sha=head, files=[{"filename": f} for f in files]))
    return head


def pull_request_payload(action: str, number: int, head: str) -> dict[str, Any]:
    payload = payloads.for_repo(payloads.load(f"pull_request.{action}"), REPO)
    return payloads.with_number(payloads.with_head(payload, head, base="main"), number)


def post(server: ServerProcess, event: str, payload: dict[str, Any], **kwargs: Any) -> Any:
    headers, body = payloads.delivery(event, payload, SECRET, **kwargs)
    return server.client.post("/api/connection/gh/payload", content=body, headers=headers)


def events(server: ServerProcess) -> list[dict[str, Any]]:
    found = server.events()
    return found if isinstance(found, list) else found["events"]


def completed_runs(double: GitHubDouble, count: int) -> list[dict[str, Any]]:
    return wait_for(
        lambda: (lambda runs: runs if len(runs) >= count else None)(
            [r for r in double.runs() if r["status"] == "completed"]
        ),
        60,
        what=f"{count} completed check run(s)",
    )


def test_a_pull_request_is_built_and_reported_as_a_check_run(
    github: tuple[GitHubDouble, Repo, ServerProcess],
) -> None:
    double, repo, server = github
    head = open_pull(double, repo, 1, "echo pull request one\n", ["test.sh"])

    # A wrong signature: 401, and nothing recorded.
    headers, body = payloads.delivery(
        "pull_request", pull_request_payload("opened", 1, head), "not the secret"
    )
    refused = server.client.post("/api/connection/gh/payload", content=body, headers=headers)
    assert refused.status_code == 401 and "signature" in refused.json()["error"].lower()
    assert events(server) == []

    answer = post(server, "pull_request", pull_request_payload("opened", 1, head), delivery_id="d-1")
    assert answer.status_code == 202, answer.text
    (build,) = server.wait_builds(1)
    assert build["result"] == "SUCCESS" and build["project"] == REPO
    (run,) = completed_runs(double, 1)
    assert run["name"] == "osci/check" and run["head_sha"] == head and run["conclusion"] == "success"
    creates = double.calls("POST", r"/check-runs$")
    assert len(creates) == 1 and creates[0].body["status"] == "in_progress"  # created at the start
    summary = run["output"]["summary"]
    assert "| job | result | duration | logs |" in summary
    log_url = re.search(r"\| unit \| SUCCESS \| [^|]+ \| \[logs\]\(([^)]+)\) \|", summary).group(1)
    assert log_url == build["log_url"]
    log = server.client.get(log_url.replace(server.url, "") + "job-output.txt")
    assert log.status_code == 200 and "pull request one" in log.text
    buildset = run["details_url"].rsplit("/", 1)[1]
    assert server.client.get(f"/api/buildset/{buildset}").status_code == 200
    # the installation token, never the JWT, on the repository calls
    assert all(
        c.headers["authorization"].startswith("Bearer ghs_") for c in double.calls(path_regex="/check-runs")
    )

    # The same delivery again (GitHub's "redeliver"): recorded once, nothing new runs.
    again = post(server, "pull_request", pull_request_payload("opened", 1, head), delivery_id="d-1")
    assert again.status_code == 202
    # "recheck" on the pull request: a second build of the same head, with a check run of its own.
    comment = payloads.with_number(
        payloads.on_pull_request(payloads.for_repo(payloads.load("issue_comment.created"), REPO), "recheck"),
        1,
    )
    assert post(server, "issue_comment", comment).status_code == 202
    builds = server.wait_builds(2)
    assert len(builds) == 2 and all(b["result"] == "SUCCESS" for b in builds)
    runs = completed_runs(double, 2)
    assert len(runs) == 2 and runs[0]["external_id"] != runs[1]["external_id"]
    assert len(events(server)) == 2  # opened (once) and the comment


def test_a_private_repository_is_fetched_over_https_with_the_installation_token(tmp_path: Path) -> None:
    """git-url is a real smart-HTTP server that, like GitHub, refuses git without a token: the
    pull request is fetched and merged onto main in the merger with the App's installation
    token, which never reaches the build's log."""
    with GitHubDouble() as double:
        git = GitHttpServer(tmp_path / "repos", accept=lambda token: token in double.installation_tokens)
        with git, serving(tmp_path, double, git.url) as (repo, server):
            head = open_pull(double, repo, 7, "echo fetched over https\n", ["test.sh"])
            assert post(server, "pull_request", pull_request_payload("opened", 7, head)).status_code == 202
            (build,) = server.wait_builds(1)
            assert build["result"] == "SUCCESS", build
            log = server.client.get(build["log_url"].replace(server.url, "") + "job-output.txt").text
            assert "fetched over https" in log
            assert not any(token in log for token in double.installation_tokens)
            assert any(auth for path, auth in git.seen if "refs/pull" in path or "git-upload-pack" in path)
            (run,) = completed_runs(double, 1)
            assert run["conclusion"] == "success"


def test_a_failing_checks_api_is_retried_and_the_run_completes_once(
    github: tuple[GitHubDouble, Repo, ServerProcess],
) -> None:
    double, repo, server = github
    head = open_pull(double, repo, 3, "echo broken; exit 1\n", ["test.sh"])
    double.fail("PATCH", r"/check-runs/\d+$", times=2)  # the completion fails twice with a 500
    assert post(server, "pull_request", pull_request_payload("opened", 3, head)).status_code == 202
    (build,) = server.wait_builds(1)
    assert build["result"] == "FAILURE"
    (run,) = completed_runs(double, 1)
    assert run["conclusion"] == "failure"
    assert "failed (try 2)" in server.log()
    assert [c.status for c in double.calls("PATCH")] == [500, 500, 200]
    assert double.completions == {run["id"]: 1}
    assert len(double.runs()) == 1


def test_closing_a_pull_request_dequeues_its_running_item(
    github: tuple[GitHubDouble, Repo, ServerProcess], tmp_path: Path
) -> None:
    double, repo, server = github
    started = tmp_path / "started"
    head = open_pull(double, repo, 2, f"touch {started}\nsleep 120\n", ["test.sh"])
    assert post(server, "pull_request", pull_request_payload("opened", 2, head)).status_code == 202
    wait_for(started.exists, 60, what="the build to start")
    closed = pull_request_payload("closed", 2, head)
    assert post(server, "pull_request", closed).status_code == 202
    (build,) = server.wait_builds(1, timeout=60)
    assert build["result"] == "ABORTED"
    (run,) = completed_runs(double, 1)
    assert run["conclusion"] == "cancelled"
    outcomes = [e.get("outcome") or "" for e in events(server)]
    assert any("dequeued" in o for o in outcomes), json.dumps(outcomes)


def test_a_github_trigger_the_driver_cannot_match_stops_the_server(tmp_path: Path) -> None:
    with GitHubDouble() as double:
        (tmp_path / "app.pem").write_bytes(double.private_key_pem())
        text = CONFIG.replace("@API@", double.url).replace("@APP@", str(double.app_id))
        text = text.replace("action: [opened, synchronize, reopened]", "action: [opened, labeled]")
        config = tmp_path / "osci.yaml"
        config.write_text(textwrap.dedent(text).lstrip().replace("@ROOT@", str(tmp_path)))
        server = ServerProcess(tmp_path, config)
        try:
            with pytest.raises(AssertionError, match="server exited with 1"):
                server.start()
            assert "event 'pull_request' has no action 'labeled'" in server.log()
            assert "osci.yaml:" in server.log()
        finally:
            server.client.close()
