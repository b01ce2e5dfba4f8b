"""Culprit finding and staging-branch promotion through the real server, real git and a real
SMTP server: the search's builds run through the scheduler, the verdict and evidence are
stored and served by the API, and the culprit's author is mailed."""

from __future__ import annotations

import subprocess
from pathlib import Path

from .conftest import GIT_ENV, Repo, dump, wait_for
from .receivers import Mailbox

BAD = "Bad Guy <bad@example.org>"

POST_CONFIG = """
- connection: {name: local, driver: git, baseurl: "@ROOT@/repos", poll-interval: 0.5}
- connection: {name: mail, driver: smtp, server: 127.0.0.1, port: @SMTP@, default-from: ci@example.org}
- pipeline:
    name: post
    trigger: {local: [{event: ref-updated, branch: main}]}
    culprit-finding: {max-parallel: 2}
    culprit: {mail: {to: team@example.org, author: true}}
- project: {name: demo}
"""

JOB = """
- job:
    name: unit
    run:
      script: |
        @SCRIPT@
- project: {@PIPELINE@: {jobs: [unit]}}
"""


def job_yaml(script: str, pipeline: str) -> str:
    return JOB.replace("@SCRIPT@", script).replace("@PIPELINE@", pipeline)


def commit_as(repo: Repo, message: str, author: str | None = None) -> str:
    repo._git(repo.work, "add", "-A")
    extra = [f"--author={author}"] if author else []
    repo._git(repo.work, "commit", "-q", "--allow-empty", "-m", message, *extra)
    return repo._git(repo.work, "rev-parse", "HEAD")


def rev_of(repo: Repo, ref: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo.bare), "rev-parse", ref], capture_output=True, text=True, check=True,
        env={**GIT_ENV, "PATH": "/usr/bin:/bin"},
    ).stdout.strip()  # fmt: skip


def is_ancestor(repo: Repo, old: str, new: str) -> bool:
    return (
        subprocess.run(["git", "-C", str(repo.bare), "merge-base", "--is-ancestor", old, new]).returncode == 0
    )


def completed_search(server, timeout: float = 240) -> dict:
    def done():
        found = server.client.get("/api/culprits").json()
        return found if found and all(s["state"] == "completed" for s in found) else None

    (summary,) = wait_for(done, timeout, interval=0.5, what="the culprit search to end")
    return server.client.get(f"/api/culprit/{summary['id']}").json()


def start(make_server, config: str, mailbox: Mailbox, repo: Repo):
    server = make_server(config.replace("@SMTP@", str(mailbox.port)))
    server.start()
    wait_for(lambda: "watching demo" in server.log(), 20, what="the repository to be watched")
    return server


def test_post_merge_failure_names_the_culprit_with_author_and_evidence(make_server, repo: Repo):
    with Mailbox() as mailbox:
        repo.write(".osci.yaml", job_yaml("test ! -e broken", "post"))
        good = commit_as(repo, "initial")
        repo.push()
        server = start(make_server, POST_CONFIG, mailbox, repo)
        # the first push's build passes at `good` (the repository existed before: push again)
        repo.write("a0", "x")
        good = commit_as(repo, "a0")
        repo.push()
        (first,) = server.wait_builds(1, timeout=60)
        assert first["result"] == "SUCCESS", dump(first)
        commits = []
        for index in range(1, 11):
            repo.write(f"f{index}", str(index))
            if index == 6:
                repo.write("broken", "yes")
            commits.append(commit_as(repo, f"commit {index}", BAD if index == 6 else None))
        repo.push()  # ten commits in one push: one failing post-merge build at the tip
        search = completed_search(server)
        assert search["verdict"] == "culprit", dump(search)
        assert search["good"] == good and search["bad"] == commits[-1]
        assert search["commits"] == 10 and search["range"] == [good, *commits]
        culprit = search["culprit"]
        assert culprit["commit"] == commits[5] and culprit["parent"] == commits[4]
        assert culprit["author"] == "Bad Guy" and culprit["email"] == "bad@example.org"
        assert culprit["subject"] == "commit 6"
        assert search["trigger"] == "post-merge" and search["job"] == "unit"
        evidence = search["evidence"]
        assert len(evidence) == search["total_builds"] >= search["search_builds"] > 0
        at_culprit = [e for e in evidence if e["commit"] == commits[5]]
        at_parent = [e for e in evidence if e["commit"] == commits[4]]
        assert sum(e["outcome"] == "fail" for e in at_culprit) >= 3
        assert sum(e["outcome"] == "pass" for e in at_parent) >= 3
        assert all(e["result"] in ("SUCCESS", "FAILURE") and e["build"] and e["item"] for e in evidence)
        # the search's builds are ordinary builds of the pipeline: stored, with logs
        builds = {b["uuid"]: b for b in server.builds(limit=200)}
        for e in evidence:
            assert builds[e["build"]]["newrev"] == e["commit"]
            assert builds[e["build"]]["pipeline"] == "post"
        # the culprit's author is told, with the evidence's address
        wait_for(lambda: mailbox.messages, 30, what="the culprit e-mail")
        sender, recipients = mailbox.envelopes[0]
        assert sorted(recipients) == ["bad@example.org", "team@example.org"]
        text = mailbox.messages[0].get_body(("plain",)).get_content()
        assert commits[5] in text and f"/api/culprit/{search['id']}" in text
        assert (
            server.client.get("/api/culprits", params={"verdict": "culprit"}).json()[0]["id"] == search["id"]
        )
        assert server.client.get("/api/culprit/nope").status_code == 404
        assert server.terminate() == 0


def test_a_failure_that_does_not_reproduce_is_flaky_and_blames_nobody(
    make_server, repo: Repo, tmp_path: Path
):
    marker = tmp_path / "flaked"
    # fails once, at the first build of the commit carrying the `flaky` file, then passes
    script = f"if [ -e flaky ] && [ ! -e {marker} ]; then touch {marker}; exit 1; fi"
    with Mailbox() as mailbox:
        repo.write(".osci.yaml", job_yaml(script, "post"))
        commit_as(repo, "initial")
        repo.push()
        server = start(make_server, POST_CONFIG, mailbox, repo)
        repo.write("a0", "x")
        commit_as(repo, "a0")
        repo.push()
        server.wait_builds(1, timeout=60)
        for index in range(1, 4):
            repo.write(f"f{index}", str(index))
            if index == 3:
                repo.write("flaky", "yes")
            commit_as(repo, f"commit {index}", BAD)
        repo.push()
        search = completed_search(server)
        assert search["verdict"] == "flaky", dump(search)
        assert search["culprit"] is None
        assert "did not reproduce" in search["reason"]
        tip = search["bad"]
        assert all(e["outcome"] == "pass" and e["item"] for e in search["evidence"]), dump(search)
        assert sum(e["commit"] == tip for e in search["evidence"]) >= 3
        # the report goes to the team, nobody is blamed
        wait_for(lambda: mailbox.messages, 30, what="the report")
        assert mailbox.envelopes[0][1] == ["team@example.org"]
        assert "nobody is blamed" in mailbox.messages[0].get_body(("plain",)).get_content()
        assert server.terminate() == 0


PROMOTE_CONFIG = """
- connection: {name: local, driver: git, baseurl: "@ROOT@/repos", poll-interval: 0.5}
- connection: {name: mail, driver: smtp, server: 127.0.0.1, port: @SMTP@, default-from: ci@example.org}
- pipeline:
    name: promote
    trigger: {local: [{event: ref-updated, branch: staging}]}
    promote: {from: staging, to: main, cherry-pick-after-culprit: true}
    culprit-finding: {max-parallel: 3}
    culprit: {mail: {to: team@example.org, author: true}}
    promoted: {mail: {to: team@example.org}}
- project: {name: demo}
"""


def test_promotion_of_a_staging_branch_with_a_bad_commit_in_the_middle(make_server, repo: Repo):
    with Mailbox() as mailbox:
        repo.write(".osci.yaml", job_yaml("test ! -e broken", "promote"))
        base = commit_as(repo, "initial")
        repo.push("main")
        repo.push("staging")
        server = start(make_server, PROMOTE_CONFIG, mailbox, repo)
        commits = []
        for index in range(1, 7):
            repo.write(f"f{index}", str(index))
            if index == 4:
                repo.write("broken", "yes")
            commits.append(commit_as(repo, f"staged {index}", BAD if index == 4 else None))
        repo.push("staging")

        def promotions(n: int):
            found = server.client.get("/api/promotions").json()
            return found if len(found) >= n and all(p["state"] == "completed" for p in found) else None

        first = wait_for(lambda: promotions(1), 240, interval=0.5, what="the first promotion")[-1]
        assert first["result"] == "partial", dump(first)
        assert first["base"] == base and first["tip"] == commits[-1]
        assert first["commits"] == commits
        assert first["promoted"] == commits[2]  # the commit before the culprit
        assert first["culprit_search"]
        search = server.client.get(f"/api/culprit/{first['culprit_search']}").json()
        assert search["verdict"] == "culprit" and search["culprit"]["commit"] == commits[3]
        assert search["culprit"]["email"] == "bad@example.org" and search["trigger"] == "promote"
        # the good commits after the culprit were cherry-picked onto main and tested again:
        # the second promotion takes them; the culprit never reaches main
        second = wait_for(lambda: promotions(2), 240, interval=0.5, what="the second promotion")[0]
        assert second["result"] == "promoted", dump(second)
        assert first["candidate"] == second["tip"]
        main = rev_of(repo, "refs/heads/main")
        assert main == second["tip"]
        assert is_ancestor(repo, commits[2], main)
        assert not is_ancestor(repo, commits[3], main)
        files = subprocess.run(
            ["git", "-C", str(repo.bare), "ls-tree", "--name-only", main], capture_output=True, text=True
        ).stdout.split()
        assert {"f1", "f2", "f3", "f5", "f6"} <= set(files) and "broken" not in files
        # main was never at a commit containing the culprit: every ref-updated of main says so
        main_events = [e for e in server.events() if e.get("ref") == "refs/heads/main" and e.get("newrev")]
        assert main_events
        for event in main_events:
            assert not is_ancestor(repo, commits[3], event["newrev"]), dump(event)
        # the culprit's author was told
        wait_for(
            lambda: any("bad@example.org" in rcpts for _, rcpts in mailbox.envelopes),
            30,
            what="the culprit mail",
        )
        # `osci promote` by hand (admin token): tests the staging tip again
        answer = server.client.post("/api/promote", json={}, headers=server.auth())
        assert answer.status_code == 200 and answer.json()["event"], answer.text
        assert server.client.post("/api/promote", json={}).status_code == 401
        refused = server.client.post("/api/promote", json={"pipeline": "nope"}, headers=server.auth())
        assert refused.status_code == 400
        assert server.terminate() == 0
