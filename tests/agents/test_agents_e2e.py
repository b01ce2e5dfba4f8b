"""The agent provider end to end: the real server, real `osci agent` processes (in network
namespaces where they can be made), builds pulled over HTTP, faults injected."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

from .conftest import Repo, ServerProcess, wait_for

CENTRAL = """
- provider:
    name: agents
    driver: agent
    heartbeat-timeout: @TIMEOUT@
    quarantine-after: 5
    halt-above: @HALT@
- connection:
    name: local
    driver: git
    baseurl: @ROOT@/repos
    poll-interval: 0.3
- pipeline:
    name: check
    manager: independent
    trigger:
      local:
        - event: ref-updated
          branch: ^main$
- job:
    name: probe
    nodeset: {nodes: [{name: main, label: pool}]}
    timeout: 120
    test-results: [out/results.xml]
    run:
      script: |
        echo "running on $OSCI_NODE in $PWD"
        test -f README
        git log --oneline -1 | grep -q change   # the workspace's .git works on the agent's side
        mkdir -p out
        printf '<testsuite name="s"><testcase classname="c" name="t1"/><testcase classname="c" name="t2"><failure message="m">boom &lt;b&gt;</failure></testcase></testsuite>' > out/results.xml
        echo kept > "$OSCI_ARTIFACTS/artifact.txt"
        touch "@ROOT@/started-$OSCI_JOB-$OSCI_NODE-$OSCI_ATTEMPT"
        while [ ! -f @ROOT@/go ]; do sleep 0.1; done
        echo done
- job:
    name: second
    parent: probe
"""


def start(make_server, repo: Repo, jobs: list[str], timeout: float = 4, halt: float = 0.9) -> ServerProcess:
    repo.write("README", "demo\n")
    repo.commit("initial")
    repo.push()
    project = f"- project:\n    name: demo\n    check: {{jobs: [{', '.join(jobs)}]}}\n"
    config = CENTRAL.replace("@TIMEOUT@", str(timeout)).replace("@HALT@", str(halt))
    server = make_server(config + project)
    server.extra_args = ["--listen", f"0.0.0.0:{server.port}"]
    server.start()
    wait_for(lambda: "watching demo" in server.log(), 20, what="the connection to see the repository")
    return server


def push(repo: Repo) -> None:
    repo.write("code.py", f"x = {time.time()}\n")
    repo.commit("change")
    repo.push()


def nodes(server: ServerProcess) -> dict[str, dict[str, Any]]:
    return {n["name"]: n for n in server.client.get("/api/nodes").json()["nodes"]}


def registered(server: ServerProcess, *names: str) -> None:
    wait_for(
        lambda: all(nodes(server).get(n, {}).get("state") == "ready" for n in names),
        30,
        what=f"agents {names} registered and ready",
    )


def node_of(server: ServerProcess, uuid: str) -> str:
    return attempts(server, uuid)[-1][1]


def started(root: Path, job: str = "probe") -> list[str]:
    return sorted(p.name for p in root.glob(f"started-{job}-*"))


def attempts(server: ServerProcess, uuid: str) -> list[tuple[str, str]]:
    build = server.client.get(f"/api/build/{uuid}").json()
    return [(a["result"], a["node"]) for a in build["attempts"]]


def test_builds_run_on_agents_with_logs_results_and_artifacts_back(make_server, repo, make_agent, tmp_path: Path):
    server = start(make_server, repo, ["probe", "second"])
    a1, a2 = make_agent(server, "a1"), make_agent(server, "a2", provides="kvm")
    registered(server, "a1", "a2")
    assert nodes(server)["a2"]["capabilities"] == ["kvm"]
    push(repo)
    wait_for(lambda: len(started(tmp_path)) + len(started(tmp_path, "second")) == 2, 60, what="both builds")
    assert {n["state"] for name, n in nodes(server).items() if name in ("a1", "a2")} == {"in-use"}
    (tmp_path / "go").touch()
    builds = server.wait_builds(2, project="demo")
    assert {b["result"] for b in builds} == {"SUCCESS"}  # the step passed (the junit file has a failing test)
    assert sorted(node_of(server, b["uuid"]) for b in builds) == ["a1", "a2"]
    for build in builds:
        doc = server.client.get(f"/api/build/{build['uuid']}").json()
        assert doc["tests"]["passed"] == 1 and doc["tests"]["failed"] == 1, doc["tests"]
        rows = server.client.get(f"/api/build/{build['uuid']}/tests").json()
        assert "boom <b>" in str(rows)
        log = server.client.get(f"/api/build/{build['uuid']}/log").text
        assert f"running on {node_of(server, build['uuid'])}" in log and "done" in log
        artifact = server.client.get(f"/logs/{build['uuid']}/artifacts/artifact.txt")
        assert artifact.status_code == 200 and artifact.text == "kept\n"
    assert a1.process.poll() is None and a2.process.poll() is None


def test_an_agent_killed_mid_build_is_an_error_and_the_build_runs_on_another(make_server, repo, make_agent, tmp_path: Path):
    server = start(make_server, repo, ["probe"])
    a1 = make_agent(server, "a1")
    registered(server, "a1")
    push(repo)
    wait_for(lambda: started(tmp_path) == ["started-probe-a1-1"], 60, what="the build to start on a1")
    a1.kill9()
    a2 = make_agent(server, "a2")
    wait_for(lambda: nodes(server)["a1"]["state"] == "offline", 30, what="a1 offline")
    wait_for(lambda: "started-probe-a2-2" in started(tmp_path), 60, what="the retry on a2")
    (tmp_path / "go").touch()
    (build,) = server.wait_builds(1, project="demo")
    assert build["result"] == "SUCCESS"  # from a2: the lost attempt is ERROR, retried
    assert attempts(server, build["uuid"]) == [("ERROR", "a1"), ("SUCCESS", "a2")]
    doc = server.client.get(f"/api/build/{build['uuid']}").json()
    assert "stopped heartbeating" in doc["attempts"][0]["reason"]
    assert len(server.finished_builds(project="demo")) == 1  # counted once
    # the killed agent comes back: what its attempt left running is killed, the node is ready
    a1.start()
    wait_for(lambda: nodes(server)["a1"]["state"] == "ready", 30, what="a1 back")
    assert a2.process.poll() is None


def test_an_agent_whose_network_is_cut_loses_its_attempt_and_abandons_it_when_back(
    make_server, repo, make_agent, tmp_path: Path
):
    server = start(make_server, repo, ["probe"])
    a1 = make_agent(server, "a1", need_netns=True)
    registered(server, "a1")
    push(repo)
    wait_for(lambda: started(tmp_path) == ["started-probe-a1-1"], 60, what="the build to start on a1")
    a1.cut()
    make_agent(server, "a2")
    wait_for(lambda: "started-probe-a2-2" in started(tmp_path), 60, what="the retry on a2")
    a1.restore()
    wait_for(lambda: "abandoning it" in a1.log(), 30, what="a1 to abandon the attempt the server gave up")
    wait_for(lambda: nodes(server)["a1"]["state"] == "ready", 30, what="a1 back")
    (tmp_path / "go").touch()
    (build,) = server.wait_builds(1, project="demo")
    assert attempts(server, build["uuid"]) == [("ERROR", "a1"), ("SUCCESS", "a2")]
    time.sleep(1)  # a late report from a1 would land now: it must not
    assert attempts(server, build["uuid"]) == [("ERROR", "a1"), ("SUCCESS", "a2")]
    assert len(server.finished_builds(project="demo")) == 1
    assert a1.process.poll() is None  # it kept running through the cut


def test_sigterm_finishes_the_running_build_then_the_agent_leaves(make_server, repo, make_agent, tmp_path: Path):
    server = start(make_server, repo, ["probe", "second"])
    a1 = make_agent(server, "a1")
    registered(server, "a1")
    push(repo)
    wait_for(lambda: len(started(tmp_path)) + len(started(tmp_path, "second")) == 1, 60, what="a build on a1")
    a1.signal(signal.SIGTERM)
    wait_for(lambda: "finishing" in a1.log(), 10, what="the agent to say it is finishing")
    wait_for(lambda: "stopping" in nodes(server)["a1"]["detail"], 10, what="the server to stop giving a1 builds")
    assert a1.process.poll() is None  # still running its build
    (tmp_path / "go").touch()
    assert a1.process.wait(60) == 0
    builds = server.finished_builds(project="demo")
    assert len(builds) == 1 and builds[0]["result"] == "SUCCESS" and node_of(server, builds[0]["uuid"]) == "a1"
    assert "a1" not in nodes(server)  # it left the grid
    a2 = make_agent(server, "a2")  # the other build waited for a node and runs on the next agent
    builds = server.wait_builds(2, project="demo")
    assert sorted(node_of(server, b["uuid"]) for b in builds) == ["a1", "a2"]
    assert a2.process.poll() is None


def test_a_revoked_token_stops_the_agent_and_a_bad_token_is_refused(make_server, repo, make_agent, tmp_path: Path):
    import subprocess
    import sys

    server = start(make_server, repo, ["probe"])
    a1 = make_agent(server, "a1")
    registered(server, "a1")
    bad = server.client.post(
        "/api/agent/register", json={"label": "pool"}, headers={"Authorization": "Bearer osci_nope"}
    )
    assert bad.status_code == 401
    admin = server.client.post("/api/agent/register", json={"label": "pool"}, headers=server.auth())
    assert admin.status_code == 403
    subprocess.run(
        [sys.executable, "-m", "osci", "token", "revoke", "a1", "--data-dir", str(server.data)], check=True
    )
    assert a1.process.wait(30) == 3
    assert "refused" in a1.log()


def test_half_the_agents_lost_halts_the_label_until_they_come_back(make_server, repo, make_agent, tmp_path: Path):
    server = start(make_server, repo, ["probe"], halt=0.4)
    a1, a2 = make_agent(server, "a1"), make_agent(server, "a2")
    registered(server, "a1", "a2")
    a1.kill9()
    wait_for(lambda: "pool" in server.client.get("/api/nodes").json()["halted"], 30, what="the label to halt")
    status = server.client.get("/api/status").json()
    assert "pool" in str(status.get("halted") or status)
    push(repo)
    time.sleep(2)
    assert started(tmp_path) == []  # nothing dispatched while halted, although a2 is free
    a1.start()
    wait_for(lambda: not server.client.get("/api/nodes").json()["halted"], 30, what="the label to resume")
    wait_for(lambda: len(started(tmp_path)) == 1, 60, what="the build to start")
    (tmp_path / "go").touch()
    (build,) = server.wait_builds(1, project="demo")
    assert build["result"] == "SUCCESS"
    assert a2.process.poll() is None


def test_after_a_server_restart_agents_register_again_and_keep_their_admin_state(make_server, repo, make_agent, tmp_path: Path):
    server = start(make_server, repo, ["probe"])
    a1, a2 = make_agent(server, "a1"), make_agent(server, "a2")
    registered(server, "a1", "a2")
    answer = server.client.post("/api/nodes/a1", json={"action": "maintenance", "reason": "new NIC"}, headers=server.auth())
    assert answer.status_code == 200
    assert server.terminate() == 0
    server.start()
    wait_for(lambda: "registering again" in a1.log() and "registering again" in a2.log(), 60, what="both agents to register again")
    wait_for(lambda: nodes(server).get("a2", {}).get("state") == "ready", 30, what="a2 ready")
    assert nodes(server)["a1"]["state"] == "maintenance"
    push(repo)
    (tmp_path / "go").touch()
    (build,) = server.wait_builds(1, project="demo")
    assert node_of(server, build["uuid"]) == "a2"
