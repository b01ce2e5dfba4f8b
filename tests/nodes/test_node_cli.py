"""`osci node ...` and `osci autohold` against the real server with real sshd hosts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from .conftest import Repo, ServerProcess, wait_for
from .test_static_e2e import CENTRAL, attempts, nodes, push

FAILING = """
- job:
    name: failing
    nodeset: {nodes: [{name: main, label: lab}]}
    run: {script: 'echo "on $OSCI_NODE"; exit 3'}
"""


def osci(server: ServerProcess, *args: str, token: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ, OSCI_SERVER=server.url, OSCI_TOKEN=server.token)
    if not token:
        del env["OSCI_TOKEN"]
    return subprocess.run(
        [sys.executable, "-m", "osci", *args], capture_output=True, text=True, timeout=60, env=env
    )


def test_node_commands_and_autohold(make_server, repo: Repo, make_lab, tmp_path: Path):
    lab = make_lab(2)
    (tmp_path / "go").touch()
    repo.write("README", "demo\n")
    repo.commit("initial")
    repo.push()
    project = "- project:\n    name: demo\n    check: {jobs: [held]}\n"
    server = make_server(lab.provider_yaml() + CENTRAL + FAILING + project)
    server.start()
    wait_for(lambda: "watching demo" in server.log(), 20, what="the connection to see the repository")

    listed = osci(server, "node", "list")
    assert listed.returncode == 0, listed.stderr
    lines = {line.split()[0]: line.split() for line in listed.stdout.splitlines()[1:] if line.strip()}
    assert lines["h0"][1:3] == ["lab", "ready"] and lines["h1"][1:3] == ["lab", "ready"]

    # maintenance keeps h0 out: the build runs on h1
    done = osci(server, "node", "maintenance", "h0", "--reason", "new disk")
    assert done.returncode == 0 and "h0: maintenance" in done.stdout, done.stderr
    push(repo)
    (build,) = server.wait_builds(1, project="demo")
    assert attempts(server, build["uuid"]) == [("SUCCESS", "h1")]
    shown = json.loads(osci(server, "node", "show", "h0", "--json").stdout)
    assert shown["state"] == "maintenance" and shown["detail"] == "new disk"
    assert shown["events"][0]["type"] == "admin-maintenance"

    # autohold: the next failing build of `failing` keeps its node, with how to reach it
    assert osci(server, "node", "release", "h0").returncode == 0
    assert osci(server, "node", "quarantine", "h1").returncode == 0
    held = osci(server, "autohold", "--project", "demo", "--job", "failing")
    assert held.returncode == 0 and "autohold set" in held.stdout, held.stderr
    assert json.loads(osci(server, "node", "list", "--json").stdout)["autoholds"][0]["job"] == "failing"
    config_with_failing = server.config.read_text().replace(
        "check: {jobs: [held]}", "check: {jobs: [failing]}"
    )
    server.config.write_text(config_with_failing)
    reload = server.client.post("/api/reload", headers=server.auth()).json()
    assert reload["ok"], reload
    assert osci(server, "enqueue", "--project", "demo", "--pipeline", "check").returncode == 0
    failed = wait_for(
        lambda: [b for b in server.finished_builds(project="demo") if b["job"] == "failing"],
        60,
        what="the failure",
    )
    assert failed[0]["result"] == "FAILURE"
    state = nodes(server)["h0"]
    assert state["state"] == "held" and "autohold" in state["detail"]
    assert state["address"].startswith("ssh -p ")
    assert json.loads(osci(server, "node", "list", "--json").stdout)["autoholds"] == []

    # autohold requests are stored: a pending one survives a restart
    assert osci(server, "node", "release", "h0").returncode == 0
    assert osci(server, "autohold", "--project", "demo", "--job", "failing", "--count", "2").returncode == 0
    assert server.terminate() == 0
    server.start()
    (pending,) = json.loads(osci(server, "node", "list", "--json").stdout)["autoholds"]
    assert (pending["job"], pending["count"], pending["held"]) == ("failing", 2, [])
    assert nodes(server)["h1"]["state"] == "quarantined"  # admin states survive a restart too

    # errors: an unknown node, and no token
    unknown = osci(server, "node", "hold", "nope")
    assert unknown.returncode == 1 and "no node 'nope'" in unknown.stderr
    refused = osci(server, "node", "hold", "h0", token=False)
    assert refused.returncode == 1 and "token" in refused.stderr
