"""The static provider end to end: the real server, real sshd hosts (network namespaces where
they can be made, else loopback ports), builds pushed to them over SSH, faults injected."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from server.receivers import Mailbox

from .conftest import Repo, ServerProcess, wait_for
from .sshhosts import Lab

CENTRAL = """
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
    name: held
    nodeset: {nodes: [{name: main, label: lab}]}
    timeout: 120
    run:
      script: |
        echo "running on $OSCI_NODE (host $OSCI_TEST_HOST)"
        touch "@ROOT@/started-$OSCI_JOB-$OSCI_NODE"
        while [ ! -f @ROOT@/go ]; do sleep 0.1; done
        echo done
- job:
    name: other
    parent: held
"""


def start(make_server, repo: Repo, lab: Lab, jobs: list[str], **settings: Any) -> ServerProcess:
    repo.write("README", "demo\n")
    repo.commit("initial")
    repo.push()
    project = f"- project:\n    name: demo\n    check: {{jobs: [{', '.join(jobs)}]}}\n"
    server = make_server(lab.provider_yaml(**settings) + CENTRAL + project)
    server.start()
    wait_for(lambda: "watching demo" in server.log(), 20, what="the connection to see the repository")
    return server


def push(repo: Repo) -> None:
    repo.write("code.py", f"x = {len(list(repo.work.iterdir()))}\n")
    repo.commit("change")
    repo.push()


def started(root: Path, job: str = "held") -> list[str]:
    return sorted(p.name.rsplit("-", 1)[1] for p in root.glob(f"started-{job}-*"))


def attempts(server: ServerProcess, uuid: str) -> list[tuple[str, str]]:
    build = server.client.get(f"/api/build/{uuid}").json()
    return [(a["result"], a["node"]) for a in build["attempts"]]


def nodes(server: ServerProcess) -> dict[str, dict[str, Any]]:
    return {n["name"]: n for n in server.client.get("/api/nodes").json()["nodes"]}


def events(server: ServerProcess, node: str) -> list[str]:
    return [e["type"] for e in server.client.get(f"/api/nodes/{node}").json()["events"]]


def test_builds_run_on_two_static_hosts_at_once(make_server, repo: Repo, make_lab, tmp_path: Path):
    lab = make_lab(2)
    server = start(make_server, repo, lab, ["held", "other"])
    assert set(nodes(server)) >= {"h0", "h1"}
    push(repo)
    wait_for(lambda: len(started(tmp_path)) + len(started(tmp_path, "other")) == 2, 60, what="both builds")
    assert sorted(started(tmp_path) + started(tmp_path, "other")) == ["h0", "h1"]  # one per host
    assert {n["state"] for name, n in nodes(server).items() if name in ("h0", "h1")} == {"in-use"}
    (tmp_path / "go").touch()
    builds = server.wait_builds(2, project="demo")
    assert {b["result"] for b in builds} == {"SUCCESS"}
    for build in builds:
        ((result, node),) = attempts(server, build["uuid"])
        log = server.client.get(f"/logs/{build['uuid']}/job-output.txt").text
        assert f"running on {node} (host {node})" in log
    assert "leased" in events(server, "h0") and "released" in events(server, "h0")


def test_a_failing_reset_takes_the_node_out_and_the_build_succeeds_on_the_other(
    make_server, repo: Repo, make_lab, tmp_path: Path
):
    lab = make_lab(2)
    (tmp_path / "go").touch()
    (tmp_path / "broken-h0").touch()
    (tmp_path / "broken-h1").touch()
    server = start(
        make_server,
        repo,
        lab,
        ["held"],
        reset=f"'test ! -e {tmp_path}/broken-$OSCI_TEST_HOST'",
        **{"probe-interval": 60},
    )
    (tmp_path / "broken-h1").unlink()  # h0 is picked first (by name); its reset fails
    push(repo)
    (build,) = server.wait_builds(1, project="demo")
    assert build["result"] == "SUCCESS"
    assert attempts(server, build["uuid"]) == [("ERROR", "h0"), ("SUCCESS", "h1")]
    assert nodes(server)["h0"]["state"] == "offline" and "reset failed" in nodes(server)["h0"]["detail"]
    assert nodes(server)["h1"]["state"] == "ready"
    assert "offline" in events(server, "h0")
    assert {"leased", "cleaning", "released"} <= set(events(server, "h1"))  # cleaning: its reset ran
    assert len(server.builds(project="demo")) == 1  # retried inside the build: counted once
    assert server.client.get("/api/status").json()["halted"] == {}  # 1 of 2 is not more than half


def test_an_sshd_that_dies_mid_build_is_an_error_retried_on_the_other_host(
    make_server, repo: Repo, make_lab, tmp_path: Path
):
    lab = make_lab(2)
    server = start(make_server, repo, lab, ["held"], **{"probe-interval": 0.5})
    push(repo)
    (first,) = wait_for(lambda: started(tmp_path), 60, what="the build to start")
    lab.host(first).kill_sshd()
    other = "h1" if first == "h0" else "h0"
    wait_for(lambda: other in started(tmp_path), 60, what="the retry on the other host")
    (tmp_path / "go").touch()
    (build,) = server.wait_builds(1, project="demo")
    assert build["result"] == "SUCCESS"
    assert attempts(server, build["uuid"]) == [("ERROR", first), ("SUCCESS", other)]
    assert nodes(server)[first]["state"] == "offline"  # its sshd is still dead: the probe fails
    assert len(server.builds(project="demo")) == 1


def test_half_the_label_failing_halts_it_and_it_resumes_when_the_host_is_back(
    make_server, repo: Repo, make_lab, tmp_path: Path
):
    lab = make_lab(2)
    server = start(make_server, repo, lab, ["held"], **{"probe-interval": 0.3, "halt-above": 0.4})
    push(repo)
    (first,) = wait_for(lambda: started(tmp_path), 60, what="the build to start")
    host = lab.host(first)
    host.kill_sshd()
    halted = wait_for(lambda: server.client.get("/api/status").json()["halted"], 30, what="the label to halt")
    assert "lab" in halted and "1 of 2" in halted["lab"]
    assert nodes(server)[first]["state"] == "offline"
    (tmp_path / "go").touch()
    # halted: the build's retry waits, even though the other host is free
    assert started(tmp_path) == [first]
    assert server.finished_builds(project="demo") == []
    host.start()
    (build,) = server.wait_builds(1, project="demo")
    assert build["result"] == "SUCCESS"
    assert attempts(server, build["uuid"])[0] == ("ERROR", first)
    assert server.client.get("/api/status").json()["halted"] == {}
    assert {"offline", "label-halted", "recovered", "label-resumed"} <= set(events(server, first))


def test_multi_node_jobs_under_contention_all_finish(make_server, repo: Repo, make_lab, tmp_path: Path):
    lab = make_lab(3)
    (tmp_path / "go").touch()
    pairs = "".join(
        f"""
- job:
    name: {name}
    nodeset: {{nodes: [{{name: a, label: lab}}, {{name: b, label: lab}}]}}
    run: {{script: 'echo "$OSCI_NODES"; sleep 0.5'}}
"""
        for name in ("pair1", "pair2", "pair3")
    )
    repo.write("README", "demo\n")
    repo.commit("initial")
    repo.push()
    project = "- project:\n    name: demo\n    check: {jobs: [pair1, pair2, pair3, held]}\n"
    server = make_server(lab.provider_yaml() + CENTRAL + pairs + project)
    server.start()
    wait_for(lambda: "watching demo" in server.log(), 20, what="the connection to see the repository")
    push(repo)
    wait_for(lambda: len(server.builds(project="demo")) >= 4, 60, what="the first item's builds")
    push(repo)  # a second item: its builds contend with the first's for the three hosts
    builds = server.wait_builds(8, timeout=120, project="demo")
    assert len(builds) == 8 and {b["result"] for b in builds} == {"SUCCESS"}
    for build in builds:
        if build["job"].startswith("pair"):
            ((result, node),) = attempts(server, build["uuid"])
            assert len(node.split(",")) == 2  # both nodes, on distinct hosts
    assert all(n["used"] == 0 for n in nodes(server).values())


def test_a_host_whose_network_is_cut_mid_build_is_an_error_and_comes_back(
    make_server, repo: Repo, make_lab, tmp_path: Path
):
    lab = make_lab(2, need_netns=True)
    server = start(make_server, repo, lab, ["held"], **{"probe-interval": 0.5})
    push(repo)
    (first,) = wait_for(lambda: started(tmp_path), 60, what="the build to start")
    host = lab.host(first)
    host.cut()  # no RST, no FIN: only SSH keepalives notice
    other = "h1" if first == "h0" else "h0"
    wait_for(lambda: other in started(tmp_path), 60, what="the retry on the other host")
    assert nodes(server)[first]["state"] == "offline"
    (tmp_path / "go").touch()
    (build,) = server.wait_builds(1, project="demo")
    assert build["result"] == "SUCCESS"
    assert attempts(server, build["uuid"]) == [("ERROR", first), ("SUCCESS", other)]
    host.restore()
    wait_for(lambda: nodes(server)[first]["state"] == "ready", 60, what="the host to come back")
    assert len(server.builds(project="demo")) == 1
    # what the lost attempt left on the host (its step, its folder) was cleaned when it came back
    assert not list((lab.root / "remote").iterdir())
    assert f"removed {lab.root / 'remote'}" in server.log()


def test_a_quarantined_node_is_mailed_to_the_admins(make_server, repo: Repo, make_lab, tmp_path: Path):
    lab = make_lab(2)
    (tmp_path / "go").touch()
    (tmp_path / "broken-h0").touch()
    with Mailbox() as mailbox:
        repo.write("README", "demo\n")
        repo.commit("initial")
        repo.push()
        mail = f"- connection: {{name: mail, driver: smtp, server: 127.0.0.1, port: {mailbox.port}}}\n"
        provider = lab.provider_yaml(
            reset=f"'test ! -e {tmp_path}/broken-$OSCI_TEST_HOST'",
            notify="mail",
            admins="[lab-admins@example.org]",
            **{"quarantine-after": 1, "probe-interval": 60},
        )
        project = "- project:\n    name: demo\n    check: {jobs: [held]}\n"
        server = make_server(mail + provider + CENTRAL + project)
        server.start()
        wait_for(lambda: "watching demo" in server.log(), 20, what="the connection to see the repository")
        push(repo)
        (build,) = server.wait_builds(1, project="demo")
        assert attempts(server, build["uuid"]) == [("ERROR", "h0"), ("SUCCESS", "h1")]
        assert nodes(server)["h0"]["state"] == "quarantined"
        (message,) = wait_for(lambda: mailbox.messages, 30, what="the admins' e-mail")
        assert message["To"] == "lab-admins@example.org"
        assert message["Subject"].startswith("osci: node h0 quarantined")
        assert "reset failed" in message.get_content()
        assert "admin: node h0 quarantined" in server.log()


def test_notify_must_name_an_smtp_connection(make_server, make_lab):
    lab = make_lab(1)
    server = make_server(lab.provider_yaml(notify="nowhere", admins="[a@example.org]") + CENTRAL)
    server.process = subprocess.Popen(
        [sys.executable, "-m", "osci", "server", "--config", str(server.config),
         "--data-dir", str(server.data), "--listen", f"127.0.0.1:{server.port}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    out, _ = server.process.communicate(timeout=60)
    assert server.process.returncode == 1
    assert "provider lab: 'notify': 'nowhere' is not an smtp connection" in out
