"""The server survives its own death, bad configuration and shutdown without losing anything."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from .conftest import Repo, wait_for
from .receivers import WebhookReceiver

CONFIG = """
- connection: {name: local, driver: git, baseurl: "@ROOT@/repos", poll-interval: 0.5}
- connection: {name: hook, driver: webhook, url: "@HOOK@", secret: s3cret}
- pipeline:
    name: check
    trigger: {local: [{event: ref-updated}]}
    start: {hook: {}}
    success: {hook: {}}
    failure: {hook: {}}
- project: {name: demo}
"""

SLOW = """
- job:
    name: slow
    run:
      script: |
        echo "attempt $OSCI_ATTEMPT of build $OSCI_BUILD started"
        touch "@ROOT@/started-$OSCI_BUILD"
        sleep @SLEEP@
        echo finished
    post-run:
      script: touch "@ROOT@/post-run-$OSCI_BUILD"
- project: {check: {jobs: [slow]}}
"""


def running_builds(server) -> list[dict]:
    return [b for b in server.builds() if b["state"] == "running"]


def test_kill_9_during_a_build_loses_nothing_and_reports_once(make_server, repo: Repo, tmp_path: Path):
    with WebhookReceiver("s3cret") as hook:
        repo.write(".osci.yaml", SLOW.replace("@ROOT@", str(tmp_path)).replace("@SLEEP@", "3"))
        repo.commit("initial")
        repo.push()
        server = make_server(CONFIG.replace("@HOOK@", hook.url))
        server.start()
        wait_for(lambda: "watching demo" in server.log(), 20, what="the repository to be watched")
        repo.commit("change")
        repo.push()
        (running,) = wait_for(lambda: running_builds(server), 30, what="a running build")
        wait_for(lambda: (tmp_path / f"started-{running['uuid']}").exists(), 30, what="the step to start")
        wait_for(lambda: hook.slots() == ["start"], 30, what="the start report")
        server.kill9()

        # Pushed while the server was dead: the restarted server must still see it.
        repo.commit("while down")
        repo.push()
        server.start()
        builds = server.wait_builds(2, timeout=90)
        assert all(b["result"] == "SUCCESS" for b in builds), builds
        detail = server.client.get(f"/api/build/{running['uuid']}").json()
        states = [(a.get("state"), a.get("result")) for a in detail["attempts"]]
        assert states[0][0] == "interrupted" and states[-1] == ("completed", "SUCCESS"), states
        wait_for(lambda: len(hook.deliveries) >= 4, 60, what="start and success for both items")
        time.sleep(2)  # let anything extra arrive
        seen = [(d["item_uuid"][:8], d["slot"]) for d in hook.deliveries]
        items = {d["item_uuid"] for d in hook.deliveries}
        assert len(items) == 2, seen
        for item in items:
            reports = [line for line in server.log().splitlines() if "report" in line]
            assert sorted(hook.slots(item)) == ["start", "success"], (seen, reports)  # exactly once each


def test_a_broken_reload_keeps_the_running_configuration(make_server, repo: Repo, tmp_path: Path):
    with WebhookReceiver("s3cret") as hook:
        repo.write(".osci.yaml", SLOW.replace("@ROOT@", str(tmp_path)).replace("@SLEEP@", "0"))
        repo.commit("initial")
        repo.push()
        server = make_server(CONFIG.replace("@HOOK@", hook.url))
        server.start()
        good = server.config.read_text()
        server.config.write_text(good + "- pipeline:\n    name: gate\n    manager: sometimes\n")
        answer = server.client.post("/api/reload", headers=server.auth())
        assert answer.status_code < 500
        body = answer.json()
        assert body["ok"] is False
        (error,) = body["errors"]
        assert error["file"].endswith("osci.yaml") and error["line"] == len(good.splitlines()) + 3
        assert "sometimes" in error["message"]
        assert server.client.get("/api/config/errors").json()
        os.kill(server.process.pid, signal.SIGHUP)  # SIGHUP does the same
        wait_for(lambda: "keeping the running configuration" in server.log(), 10, what="the SIGHUP reload")
        repo.commit("still building")
        repo.push()
        (build,) = server.wait_builds(1)
        assert build["result"] == "SUCCESS"
        server.config.write_text(good)
        assert server.client.post("/api/reload", headers=server.auth()).json()["ok"] is True


def test_sigterm_aborts_running_builds_after_their_post_run(make_server, repo: Repo, tmp_path: Path):
    with WebhookReceiver("s3cret") as hook:
        repo.write(".osci.yaml", SLOW.replace("@ROOT@", str(tmp_path)).replace("@SLEEP@", "60"))
        repo.commit("initial")
        repo.push()
        server = make_server(CONFIG.replace("@HOOK@", hook.url))
        server.start()
        wait_for(lambda: "watching demo" in server.log(), 20, what="the repository to be watched")
        repo.commit("change")
        repo.push()
        (running,) = wait_for(lambda: running_builds(server), 30, what="a running build")
        wait_for(lambda: (tmp_path / f"started-{running['uuid']}").exists(), 30, what="the step to start")
        assert server.terminate(timeout=60) == 0
        assert (tmp_path / f"post-run-{running['uuid']}").exists()
        assert "osci server stopped" in server.log()


def test_timer_pipeline_fires_with_the_branch_tip(make_server, repo: Repo, tmp_path: Path):
    repo.write(
        ".osci.yaml",
        "- job: {name: nightly, run: {script: 'echo nightly'}}\n- project: {periodic: {jobs: [nightly]}}\n",
    )
    tip = repo.commit("initial")
    repo.push()
    server = make_server(
        """
        - connection: {name: local, driver: git, baseurl: "@ROOT@/repos", poll-interval: 0}
        - pipeline:
            name: periodic
            trigger: {timer: [{time: "* * * * * */2"}]}
        - project: {name: demo, default-branch: main}
        """
    )
    server.start()
    builds = server.wait_builds(1, timeout=30)
    assert builds[0]["job"] == "nightly" and builds[0]["pipeline"] == "periodic"
    detail = server.client.get(f"/api/build/{builds[0]['uuid']}").json()
    assert detail.get("newrev", tip) == tip


def test_supercedent_pipeline_supersedes_the_item_under_test(make_server, repo: Repo, tmp_path: Path):
    repo.write(
        ".osci.yaml",
        SLOW.replace("@ROOT@", str(tmp_path)).replace("@SLEEP@", "30").replace("check:", "post:"),
    )
    repo.commit("initial")
    repo.push()
    server = make_server(
        """
        - connection: {name: local, driver: git, baseurl: "@ROOT@/repos", poll-interval: 0.5}
        - pipeline:
            name: post
            manager: supercedent
            trigger: {local: [{event: ref-updated}]}
        - project: {name: demo}
        """
    )
    server.start()
    wait_for(lambda: "watching demo" in server.log(), 20, what="the repository to be watched")
    repo.commit("first")
    repo.push()
    (first,) = wait_for(lambda: running_builds(server), 30, what="a running build")
    repo.commit("second")
    repo.push()
    done = server.wait_builds(1, timeout=60)
    assert done[0]["uuid"] == first["uuid"] and done[0]["result"] == "ABORTED"
    second = wait_for(
        lambda: [b for b in running_builds(server) if b["uuid"] != first["uuid"]], 30, what="the newer build"
    )
    assert second
