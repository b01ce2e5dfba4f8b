"""Third-party CI against the Gerrit double, with the real `osci server` process: votes with
working log links, files matchers, recheck, a dropped stream, comment-only, a failing REST
API, abandoned changes, merge conflicts and `osci enqueue --change`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from gerritdouble.double import GerritDouble

from .conftest import ServerProcess, wait_for

PIPELINES = r"""
- pipeline:
    name: check
    trigger:
      upstream:
        - event: patchset-created
        - event: comment-added
          comment: (?i)^\s*recheck\s*$
    success: {upstream: {Verified: 1}}
    failure: {upstream: {Verified: -1}}
    no-jobs: {}
- job:
    name: vendor-tests
    files: ['^vendor/.*']
    run:
      script: |
        test -f vendor/driver.py
        echo "testing the vendor driver at $(git rev-parse HEAD)"
        if [ -f @ROOT@/hold ]; then while [ -f @ROOT@/hold ]; do sleep 0.1; done; fi
        if grep -q broken vendor/driver.py; then exit 1; fi
- project:
    name: org/app
    default-branch: master
    check: {jobs: [vendor-tests]}
"""


@pytest.fixture
def gerrit(tmp_path: Path):
    with GerritDouble(tmp_path / "gerrit") as double:
        double.create_project("org/app", {"README": "app\n", "vendor/driver.py": "x = 1\n"})
        yield double


def start(make_server, gerrit: GerritDouble, **extra: Any) -> ServerProcess:
    server = make_server(gerrit.connection_yaml(**extra) + "\n" + PIPELINES)
    server.start()
    wait_for(lambda: gerrit.sshd.stream_count() > 0, 30, what="the server to follow stream-events")
    return server


def builds_of(server: ServerProcess, number: int) -> list[dict[str, Any]]:
    return server.finished_builds(change=str(number))


def review_of(gerrit: GerritDouble, number: int, patchset: int = 1) -> list[dict[str, Any]]:
    return [r for r in gerrit.reviews if (r["change"], r["patchset"]) == (number, patchset)]


def test_a_vendor_patchset_gets_a_build_and_a_vote_with_a_working_log_link(make_server, gerrit: GerritDouble):
    server = start(make_server, gerrit)
    number, _ = gerrit.upload("org/app", {"vendor/driver.py": "x = 2\n"})
    (build,) = server.wait_builds(1, change=str(number))
    assert build["result"] == "SUCCESS" and build["job"] == "vendor-tests"
    (review,) = wait_for(lambda: review_of(gerrit, number), 30, what="the vote")
    assert review["labels"] == {"Verified": 1} and review["via"] == "rest"
    assert review["message"].startswith("Build succeeded (check pipeline).")
    link = re.search(r"- vendor-tests (\S+) : SUCCESS in ", review["message"])
    assert link and link.group(1) == build["log_url"]
    assert httpx.get(link.group(1), timeout=10).status_code == 200
    output = httpx.get(link.group(1) + "job-output.txt", timeout=10)
    assert output.status_code == 200
    # what ran is the patchset's own commit (it is on the branch tip: a fast-forward)
    revision = gerrit.changes.get(number).current.revision
    assert f"testing the vendor driver at {revision}" in output.text

    # a patchset touching nothing of the vendor's: no build, and the event says why
    other, _ = gerrit.upload("org/app", {"README": "docs only\n"})

    def outcome() -> str | None:
        found = [e for e in server.events() if e["change"] == str(other) and e["type"] == "patchset-created"]
        return found[0]["outcome"] if found and "no jobs ran" in (found[0]["outcome"] or "") else None

    why = wait_for(outcome, 30, what="the event's outcome")
    assert "vendor-tests" in why and "files" in why
    assert builds_of(server, other) == []
    assert review_of(gerrit, other) == []  # no-jobs reports to nobody here

    # recheck runs it again; chatter does not
    gerrit.comment(number, "looks good to me")
    gerrit.comment(number, "recheck")
    server.wait_builds(2, change=str(number))
    wait_for(lambda: len(review_of(gerrit, number)) == 2, 30, what="the second vote")
    time.sleep(1)
    assert len(builds_of(server, number)) == 2
    assert server.process.poll() is None


def test_a_dropped_stream_during_a_burst_loses_no_patchset_and_doubles_none(
    make_server, gerrit: GerritDouble
):
    server = start(make_server, gerrit)
    first, _ = gerrit.upload("org/app", {"vendor/driver.py": "x = 0\n"})
    server.wait_builds(1, change=str(first))  # the stream has been seen working: catch-up has a start
    uploaded = [(first, 1)]
    for i in range(8):
        uploaded.append(gerrit.upload("org/app", {"vendor/driver.py": f"x = {i + 10}\n"}))
        if i == 3:
            assert gerrit.drop_streams() == 1
    wait_for(
        lambda: len(server.finished_builds(limit=100)) >= len(uploaded), 120, what="a build per patchset"
    )
    time.sleep(2)  # a late duplicate would show now
    counts = Counter((int(b["change"]), int(b["patchset"])) for b in server.finished_builds(limit=100))
    assert counts == Counter({key: 1 for key in uploaded})
    assert "caught up since" in server.log()
    wait_for(lambda: all(review_of(gerrit, n, p) for n, p in uploaded), 60, what="a vote on every patchset")
    assert all(len(review_of(gerrit, n, p)) == 1 for n, p in uploaded)


def test_comment_only_over_ssh_posts_no_label(make_server, gerrit: GerritDouble):
    server = start(make_server, gerrit, **{"comment-only": True, "report-via": "ssh"})
    number, _ = gerrit.upload("org/app", {"vendor/driver.py": "broken\n"})
    (build,) = server.wait_builds(1, change=str(number))
    assert build["result"] == "FAILURE"
    (review,) = wait_for(lambda: review_of(gerrit, number), 30, what="the comment")
    assert review["via"] == "ssh" and review["labels"] == {}
    assert review["message"].startswith("Build failed (check pipeline).")
    assert all("--label" not in c for c in gerrit.sshd.commands)


def test_a_500_from_rest_is_retried_and_the_review_lands_once(make_server, gerrit: GerritDouble):
    gerrit.rest.fail_reviews = 2
    gerrit.rest.fail_after_applying = 1  # and one that lands although Gerrit answers 500
    server = start(make_server, gerrit)
    number, _ = gerrit.upload("org/app", {"vendor/driver.py": "x = 3\n"})
    server.wait_builds(1, change=str(number))
    wait_for(lambda: review_of(gerrit, number), 60, what="the review, after the retries")
    wait_for(lambda: "had landed already" in server.log(), 60, what="the retry that finds it posted")
    assert len(review_of(gerrit, number)) == 1
    posts = [r for r in gerrit.rest.requests if r.method == "POST"]
    assert len(posts) == 3  # two refused, one applied-but-500, and no fourth
    assert "failed (try 2)" in server.log()
    assert gerrit.password not in server.log()


def test_an_abandoned_change_is_dequeued_with_its_running_build(
    make_server, gerrit: GerritDouble, tmp_path: Path
):
    hold = tmp_path / "hold"
    hold.write_text("")
    server = start(make_server, gerrit)
    number, _ = gerrit.upload("org/app", {"vendor/driver.py": "x = 4\n"})

    def running() -> bool:
        status = server.client.get("/api/status").json()
        jobs = [j for p in status["pipelines"] for q in p["queues"] for i in q["items"] for j in i["jobs"]]
        return any(j["state"] == "running" for j in jobs)

    wait_for(running, 60, what="the build to run")
    gerrit.abandon(number)
    (build,) = server.wait_builds(1, change=str(number))
    assert build["result"] == "ABORTED"
    hold.unlink()
    event = wait_for(
        lambda: [e for e in server.events() if e["type"] == "change-abandoned" and e["outcome"]],
        30,
        what="the event",
    )[0]
    assert "dequeued 1 item(s)" in event["outcome"]
    assert server.client.get("/api/status").json()["pipelines"][0]["queues"][0]["items"] == []


def test_a_merge_conflict_is_reported_as_such(make_server, gerrit: GerritDouble):
    server = start(make_server, gerrit)
    base = gerrit.git.tip("org/app")
    gerrit.push_branch("org/app", {"vendor/driver.py": "x = 'theirs'\n"})
    number, _ = gerrit.upload("org/app", {"vendor/driver.py": "x = 'mine'\n"}, base=base)
    (review,) = wait_for(lambda: review_of(gerrit, number), 60, what="the merge failure report")
    assert review["labels"] == {"Verified": -1}
    assert review["message"].startswith("Merge failed")
    assert "vendor/driver.py" in review["message"]
    (event,) = [e for e in server.events() if e["change"] == str(number) and e["type"] == "patchset-created"]
    assert event["items"][0]["result"] == "MERGE_CONFLICT"
    assert builds_of(server, number) == []


def test_osci_enqueue_change_runs_a_patchset_by_hand(make_server, gerrit: GerritDouble):
    server = start(make_server, gerrit)
    number, _ = gerrit.upload("org/app", {"vendor/driver.py": "x = 5\n"}, emit=False)  # the stream missed it
    gerrit.upload("org/app", {"vendor/driver.py": "broken\n"}, number=number, emit=False)
    env = dict(os.environ, OSCI_SERVER=server.url, OSCI_TOKEN=server.token)
    done = subprocess.run(
        [sys.executable, "-m", "osci", "enqueue", "--change", f"{number},1", "--pipeline", "check"],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"change {number},1" in done.stdout
    (build,) = server.wait_builds(1, change=str(number))
    assert (build["patchset"], build["result"]) == ("1", "SUCCESS")
    wait_for(lambda: review_of(gerrit, number, 1), 30, what="the vote on patchset 1")
    unknown = subprocess.run(
        [sys.executable, "-m", "osci", "enqueue", "--change", "999999", "--pipeline", "check"],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert unknown.returncode != 0 and "no connection knows change 999999" in unknown.stdout + unknown.stderr
    api = server.client.post(
        "/api/enqueue", json={"pipeline": "check", "change": number}, headers=server.auth()
    )
    assert api.status_code == 200 and api.json()["patchset"] == "2"  # the current patchset
    builds = server.wait_builds(2, change=str(number))
    assert {(b["patchset"], b["result"]) for b in builds} == {("1", "SUCCESS"), ("2", "FAILURE")}


def test_a_malformed_event_is_recorded_and_the_stream_goes_on(make_server, gerrit: GerritDouble):
    server = start(make_server, gerrit)
    gerrit.send_raw('{"type": "patchset-created", "change": {"project": ')
    number, _ = gerrit.upload("org/app", {"vendor/driver.py": "x = 6\n"})
    server.wait_builds(1, change=str(number))
    (bad,) = [e for e in server.events() if e["type"] == "malformed"]
    assert bad["outcome"].startswith("error: unreadable Gerrit event")


def test_a_bad_gerrit_connection_stops_the_server_at_start(make_server, gerrit: GerritDouble, tmp_path: Path):
    server = make_server(gerrit.connection_yaml(**{"report-via": "telepathy"}) + "\n" + PIPELINES)
    done = subprocess.run(
        [sys.executable, "-m", "osci", "server", "--config", str(server.config), "--data-dir", str(server.data),
         "--listen", f"127.0.0.1:{server.port}"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    assert "connection upstream (gerrit): 'report-via' must be one of rest, ssh" in done.stderr
    assert gerrit.password not in done.stderr + done.stdout
    bad_trigger = PIPELINES.replace("event: patchset-created", "event: patchset-uploaded")
    server = make_server(gerrit.connection_yaml() + "\n" + bad_trigger)
    done = subprocess.run(
        [sys.executable, "-m", "osci", "server", "--config", str(server.config), "--data-dir", str(server.data),
         "--listen", f"127.0.0.1:{server.port}"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1 and "unknown Gerrit event 'patchset-uploaded'" in done.stderr
