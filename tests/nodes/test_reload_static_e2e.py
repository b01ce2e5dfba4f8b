"""A reload changes a static provider's hosts and reset while a build runs on one of them: the real
server, real sshd hosts."""

from __future__ import annotations

from pathlib import Path

from .conftest import Repo, ServerProcess, wait_for
from .sshhosts import Lab
from .test_static_e2e import CENTRAL, attempts, events, nodes, push, started


def provider(lab: Lab, hosts: list[str], **settings: str) -> str:
    text = lab.provider_yaml(**settings)
    lines = text.splitlines()
    kept = [line for line in lines if "{name: " not in line or any(f"{{name: {h}," in line for h in hosts)]
    return "\n".join(kept) + "\n"


def reload(server: ServerProcess, text: str) -> dict:
    server.config.write_text(text)
    answer = server.client.post("/api/reload", headers=server.auth())
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_reload_swaps_a_busy_host_for_a_new_one_and_changes_the_reset(
    make_server, repo: Repo, make_lab, tmp_path: Path
):
    lab = make_lab(2)
    project = "- project:\n    name: demo\n    check: {jobs: [held]}\n"
    central = CENTRAL.replace("@ROOT@", str(tmp_path)) + project
    repo.write("README", "demo\n")
    repo.commit("initial")
    repo.push()
    server = make_server(provider(lab, ["h0"]) + central)
    server.start()
    wait_for(lambda: "watching demo" in server.log(), 20, what="the connection to see the repository")
    assert "h1" not in nodes(server)
    push(repo)
    wait_for(lambda: started(tmp_path) == ["h0"], 60, what="the build on h0")

    reset = f"'touch {tmp_path}/reset-$OSCI_TEST_HOST'"
    answer = reload(server, provider(lab, ["h1"], reset=reset) + central)
    assert answer["ok"] and answer["pool"] == ["lab: reset, +h1, -h0 (draining)"], answer
    assert nodes(server)["h0"]["state"] == "in-use" and nodes(server)["h1"]["state"] == "ready"
    assert "draining" in events(server, "h0") and "registered" in events(server, "h1")
    (tmp_path / "go").touch()
    (first,) = server.wait_builds(1, project="demo")
    assert first["result"] == "SUCCESS" and attempts(server, first["uuid"]) == [("SUCCESS", "h0")]
    assert not (tmp_path / "reset-h0").exists()  # it started before the reload: no reset then
    wait_for(lambda: "h0" not in nodes(server), 10, what="h0 to leave")

    push(repo)  # the next build runs on the new host, with the new reset
    builds = server.wait_builds(2, project="demo")
    (second,) = [b for b in builds if b["uuid"] != first["uuid"]]
    assert second["result"] == "SUCCESS" and attempts(server, second["uuid"]) == [("SUCCESS", "h1")]
    assert (tmp_path / "reset-h1").exists()
    assert len(server.builds(project="demo")) == 2
