"""`POST /api/reload` reconfigures the running node pool: the real server, local providers added,
changed and removed while builds run, a broken provider block that changes nothing."""

from __future__ import annotations

import socket
import textwrap
import time
from pathlib import Path
from typing import Any

from .conftest import Repo, ServerProcess, wait_for

HOST = socket.gethostname()
CENTRAL = """
- connection: {name: local, driver: git, baseurl: "@ROOT@/repos", poll-interval: 0.3}
- pipeline:
    name: check
    manager: independent
    trigger: {local: [{event: ref-updated, branch: ^main$}]}
- job:
    name: held
    nodeset: {nodes: [{name: main, label: small}]}
    timeout: 120
    run:
      script: |
        echo "running on $OSCI_NODE"
        touch "@ROOT@/started-$OSCI_JOB"
        while [ ! -f @ROOT@/go ]; do sleep 0.1; done
        exit "$(cat @ROOT@/go)"
- job: {name: other, parent: held}
- project:
    name: demo
    check: {jobs: [@JOBS@]}
"""
BASE = "- provider: {name: base, driver: local, slots: 1}\n"


def small(slots: int = 1) -> str:
    return f"- provider: {{name: small, driver: local, slots: {slots}, label: small}}\n"


def start(make_server, repo: Repo, providers: str, jobs: str) -> ServerProcess:
    repo.write("README", "demo\n")
    repo.commit("initial")
    repo.push()
    server = make_server(providers + CENTRAL.replace("@JOBS@", jobs))
    server.start()
    wait_for(lambda: "watching demo" in server.log(), 20, what="the connection to see the repository")
    return server


def reload(server: ServerProcess, providers: str, jobs: str) -> dict[str, Any]:
    text = textwrap.dedent(providers + CENTRAL.replace("@JOBS@", jobs)).replace("@ROOT@", str(server.root))
    server.config.write_text(text)
    answer = server.client.post("/api/reload", headers=server.auth())
    assert answer.status_code == 200, answer.text
    return answer.json()


def push(repo: Repo) -> None:
    repo.write("code.py", f"x = {time.monotonic()}\n")
    repo.commit("change")
    repo.push()


def nodes(server: ServerProcess) -> dict[str, dict[str, Any]]:
    return {n["name"]: n for n in server.client.get("/api/nodes").json()["nodes"]}


def events(server: ServerProcess, node: str) -> list[tuple[str, str]]:
    return [(e["type"], e["detail"]) for e in server.client.get(f"/api/nodes/{node}").json()["events"]]


def started(root: Path) -> list[str]:
    return sorted(p.name.split("-", 1)[1] for p in root.glob("started-*"))


def attempts(server: ServerProcess, uuid: str) -> list[tuple[str, str]]:
    return [(a["result"], a["node"]) for a in server.client.get(f"/api/build/{uuid}").json()["attempts"]]


def test_a_reload_adds_a_provider_whose_node_runs_builds_and_changes_its_slots(
    make_server, repo: Repo, tmp_path: Path
):
    server = start(make_server, repo, BASE, "held, other")
    node = f"small:{HOST}"
    answer = reload(server, BASE + small(1), "held, other")
    assert answer == {"ok": True, "errors": [], "pool": ["providers: +small"]}
    assert nodes(server)[node]["label"] == "small"
    assert events(server, node)[0] == (
        "registered",
        "provider small, state ready (provider small added by a reload)",
    )
    assert "node pool reconfigured: providers: +small" in server.log()
    push(repo)
    wait_for(lambda: started(tmp_path), 60, what="a build on the new node")
    time.sleep(1.5)
    assert len(started(tmp_path)) == 1 and nodes(server)[node]["used"] == 1  # one slot: the other waits
    answer = reload(server, BASE + small(2), "held, other")
    assert answer["pool"] == [f"small: slots 1 → 2, ~{node}"]
    wait_for(lambda: started(tmp_path) == ["held", "other"], 60, what="the second build on the second slot")
    assert nodes(server)[node]["used"] == 2
    (tmp_path / "go").write_text("0")
    builds = server.wait_builds(2, project="demo")
    assert {b["result"] for b in builds} == {"SUCCESS"}
    assert {attempts(server, b["uuid"])[0][1] for b in builds} == {node}


def test_a_reload_removing_a_provider_lets_its_running_build_finish_once_then_the_node_goes(
    make_server, repo: Repo, tmp_path: Path
):
    server = start(make_server, repo, BASE + small(1), "held")
    node = f"small:{HOST}"
    push(repo)
    wait_for(lambda: started(tmp_path), 60, what="the build to start")
    answer = reload(server, BASE, "held")
    assert answer["ok"] and answer["pool"] == [f"providers: -small ({node} draining)"]
    assert nodes(server)[node]["state"] == "in-use"  # it finishes its build first
    assert events(server, node)[0] == (
        "draining",
        "provider small removed by a reload: leaves once its builds are done",
    )
    (tmp_path / "go").write_text("3")
    (build,) = server.wait_builds(1, project="demo")
    assert build["result"] == "FAILURE"  # its real result: the step exited with 3
    assert attempts(server, build["uuid"]) == [("FAILURE", node)]
    wait_for(lambda: node not in nodes(server), 10, what="the node to leave")
    assert server.client.get(f"/api/nodes/{node}").status_code == 404
    time.sleep(1)
    assert len(server.builds(project="demo")) == 1  # counted once
    # the label has no node any more: the next build of the job says so at once
    push(repo)
    builds = server.wait_builds(2, project="demo")
    latest = next(b for b in builds if b["uuid"] != build["uuid"])
    assert latest["result"] == "ERROR"
    assert (
        "no provider has a node for label 'small'" in server.client.get(f"/api/build/{latest['uuid']}").text
    )


def test_a_broken_provider_block_keeps_the_running_pool_and_names_its_line(
    make_server, repo: Repo, tmp_path: Path
):
    server = start(make_server, repo, BASE + small(1), "held")
    before = nodes(server)
    broken = BASE + "- provider:\n    name: small\n    driver: local\n    slots: none\n    label: small\n"
    answer = reload(server, broken, "held")
    assert answer["ok"] is False
    (error,) = answer["errors"]
    assert error["file"].endswith("osci.yaml") and error["line"] == 5 and "slots" in error["message"]
    # a provider that loads but cannot run (its `notify` is no smtp connection): refused too
    answer = reload(
        server, BASE + small(1).replace("}", ", notify: nosuch}") + small(1).replace("small", "lab"), "held"
    )
    assert answer["ok"] is False
    (error,) = answer["errors"]
    assert error["line"] == 2 and "'nosuch' is not an smtp connection" in error["message"]
    assert "keeping the running configuration" in server.log()
    assert nodes(server) == before and f"lab:{HOST}" not in before
    assert server.client.get("/api/config/errors").json()
    (tmp_path / "go").write_text("0")
    push(repo)
    (build,) = server.wait_builds(1, project="demo")
    assert build["result"] == "SUCCESS" and attempts(server, build["uuid"]) == [("SUCCESS", f"small:{HOST}")]
