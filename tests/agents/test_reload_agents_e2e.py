"""A reload replaces and then removes the agent provider while an agent runs a build: the real
server, real `osci agent` processes."""

from __future__ import annotations

from pathlib import Path

from .conftest import Repo, ServerProcess, wait_for
from .test_agents_e2e import CENTRAL, attempts, nodes, push, registered, start, started


def reload(server: ServerProcess, providers: str) -> dict:
    rest = "- connection:" + CENTRAL.split("- connection:", 1)[1].replace("@ROOT@", str(server.root))
    project = "- project:\n    name: demo\n    check: {jobs: [probe]}\n"
    server.config.write_text(providers + rest + project)
    answer = server.client.post("/api/reload", headers=server.auth())
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_agents_of_a_removed_provider_finish_their_build_then_join_the_new_one_or_stop(
    make_server, repo: Repo, make_agent, tmp_path: Path
):
    server = start(make_server, repo, ["probe"])
    a1, a2 = make_agent(server, "a1"), make_agent(server, "a2")
    registered(server, "a1", "a2")
    push(repo)
    (running,) = wait_for(lambda: started(tmp_path), 60, what="the build on an agent")
    busy = running.split("-")[2]
    idle = "a2" if busy == "a1" else "a1"

    # the provider is renamed: the idle agent moves at once, the busy one after its build
    moved = "- provider: {name: lab-agents, driver: agent, heartbeat-timeout: 4, labels: [pool]}\n"
    answer = reload(server, moved)
    assert answer["ok"] and answer["pool"] == [f"providers: +lab-agents, -agents ({busy} draining)"], answer
    wait_for(
        lambda: nodes(server).get(idle, {}).get("provider") == "lab-agents", 30, what="the idle agent to move"
    )
    assert nodes(server)[busy]["provider"] == "agents" and nodes(server)[busy]["state"] == "in-use"
    (tmp_path / "go").touch()
    (build,) = server.wait_builds(1, project="demo")
    assert build["result"] == "SUCCESS" and attempts(server, build["uuid"]) == [("SUCCESS", busy)]
    wait_for(
        lambda: nodes(server).get(busy, {}).get("provider") == "lab-agents", 30, what="the busy agent to move"
    )
    assert len(server.builds(project="demo")) == 1

    # no agent provider any more: the agents are told so and stop
    answer = reload(server, "")
    assert answer["ok"] and answer["pool"][0] == "providers: -lab-agents", answer
    assert a1.process.wait(30) == 3 and a2.process.wait(30) == 3  # refused
    assert not {"a1", "a2"} & set(nodes(server))
