"""The server end to end: a real git repository, the real server process, its HTTP API."""

from __future__ import annotations

from .conftest import Repo, dump, wait_for

CONFIG = """
- connection:
    name: local
    driver: git
    baseurl: @ROOT@/repos
    poll-interval: 0.5
- pipeline:
    name: check
    manager: independent
    trigger:
      local:
        - event: ref-updated
          branch: ^main$
- project:
    name: demo
"""

IN_REPO = """
- job:
    name: unit
    test-results: [report.xml]
    run:
      - script: |
          echo "unit tests of $OSCI_PROJECT at $OSCI_REF"
          cat > report.xml <<'XML'
          <testsuite name="s"><testcase classname="calc" name="test_add" time="0.1"/>
          <testcase classname="calc" name="test_div"><failure message="boom">ZeroDivisionError</failure></testcase></testsuite>
          XML
          test -f src/ok
- job:
    name: docs-only
    files: ['^docs/']
    run: {script: "echo docs"}
- project:
    check:
      jobs: [unit, docs-only]
"""


def push_config(repo: Repo) -> str:
    repo.write(".osci.yaml", IN_REPO)
    repo.write("src/ok", "yes\n")
    repo.commit("config")
    repo.push()
    return repo.commit("noop")


def test_push_builds_with_result_log_and_tests_in_the_api(make_server, repo: Repo):
    repo.write(".osci.yaml", IN_REPO)
    repo.write("src/ok", "yes\n")
    repo.commit("initial")
    repo.push()
    server = make_server(CONFIG)
    server.start()
    wait_for(lambda: "watching demo" in server.log(), 20, what="the connection to see the repository")

    repo.write("src/code.py", "x = 1\n")
    rev = repo.commit("change code")
    repo.push()
    (build,) = server.wait_builds(1, project="demo")
    assert build["job"] == "unit", dump(server.builds())
    assert build["result"] == "SUCCESS"
    assert build["branch"] == "main" and build["pipeline"] == "check"
    detail = server.client.get(f"/api/build/{build['uuid']}").json()
    assert detail["attempts"][0]["result"] == "SUCCESS"
    tests = server.client.get(f"/api/build/{build['uuid']}/tests").json()
    names = {t["name"]: t["status"] for t in (tests if isinstance(tests, list) else tests["tests"])}
    assert names == {"test_add": "passed", "test_div": "failed"}
    log = server.client.get(f"/api/build/{build['uuid']}/log").text
    assert f"unit tests of demo at {rev}" in log or "unit tests of demo" in log
    page = server.client.get(build["log_url"].replace(server.url, ""))
    assert page.status_code == 200 and "unit" in page.text

    # docs-only did not run: its files matcher excluded the change; the event says what it triggered.
    assert [b["job"] for b in server.builds()] == ["unit"]
    events = server.events()
    assert any(
        "enqueued into check" in (e.get("outcome") or "")
        for e in (events if isinstance(events, list) else events["events"])
    )


def test_files_matcher_runs_a_job_only_for_relevant_changes(make_server, repo: Repo):
    push_config(repo)
    server = make_server(CONFIG)
    server.start()
    wait_for(lambda: "watching demo" in server.log(), 20, what="the connection to see the repository")
    repo.write("docs/guide.md", "# guide\n")
    repo.commit("docs")
    repo.push()
    builds = server.wait_builds(2)
    assert sorted(b["job"] for b in builds) == ["docs-only", "unit"]


def test_enqueue_needs_a_token_and_runs_the_branch_tip(make_server, repo: Repo):
    push_config(repo)
    server = make_server(CONFIG)
    server.start()
    body = {"project": "demo", "pipeline": "check", "branch": "main"}
    assert server.client.post("/api/enqueue", json=body).status_code == 401
    bad = server.client.post(
        "/api/enqueue", json={"project": "demo", "pipeline": "nope"}, headers=server.auth()
    )
    assert bad.status_code in (400, 404, 422) and "nope" in bad.text
    ok = server.client.post("/api/enqueue", json=body, headers=server.auth())
    assert ok.status_code in (200, 201, 202), ok.text
    # a manual run has no changed files: file matchers pass, so both jobs run
    builds = server.wait_builds(2)
    assert {b["job"]: b["result"] for b in builds} == {"unit": "SUCCESS", "docs-only": "SUCCESS"}


def test_a_change_that_breaks_the_in_repo_config_is_reported_not_crashed(make_server, repo: Repo):
    push_config(repo)
    server = make_server(CONFIG)
    server.start()
    wait_for(lambda: "watching demo" in server.log(), 20, what="the connection to see the repository")
    repo.write(".osci.yaml", "- job:\n    name: broken\n    rnu: x\n")
    repo.commit("break config")
    repo.push()
    body = {"project": "demo", "pipeline": "check", "branch": "main"}
    wait_for(lambda: server.client.get("/api/buildsets").json() is not None, 5)

    # the item ends with the configuration error as its message; the server keeps serving
    def failed_item():
        sets = server.client.get("/api/buildsets").json()
        sets = sets if isinstance(sets, list) else sets.get("buildsets", [])
        return [s for s in sets if s.get("result") == "FAILURE"]

    found = wait_for(failed_item, 30, what="the item to fail on its configuration")
    assert ".osci.yaml:3" in (found[0].get("message") or ""), dump(found)
    assert server.client.post("/api/enqueue", json=body, headers=server.auth()).status_code < 300
