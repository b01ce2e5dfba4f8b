"""The dashboard's history endpoints against the real server: its configuration answers the
job, project, trends and config pages, and a finished build shows up in the roll-ups."""

from __future__ import annotations

from .conftest import Repo

CONFIG = """
- connection: {name: local, driver: git, baseurl: "@ROOT@/repos", poll-interval: 0.5}
- pipeline:
    name: check
    trigger: {local: [{event: ref-updated}]}
- job:
    name: unit
    files: ['^src/']
    run: {script: 'echo unit'}
- project:
    name: demo
    check: {jobs: [unit]}
"""


def test_history_pages_read_the_real_configuration(make_server, repo: Repo) -> None:
    repo.write("src/a.py", "print(1)\n")
    repo.commit("initial")
    repo.push()
    server = make_server(CONFIG)
    server.start()
    client = server.client
    enqueued = client.post(
        "/api/enqueue", json={"project": "demo", "pipeline": "check", "branch": "main"}, headers=server.auth()
    )
    assert enqueued.status_code < 300, enqueued.text
    (build,) = server.wait_builds(1)
    assert build["result"] == "SUCCESS" and build["tests"]["failed"] == 0

    job = client.get("/api/job/unit").json()
    assert job["totals"]["runs"] == 1 and job["recent"][0]["uuid"] == build["uuid"]
    assert job["config"]["runs_in"][0]["project"] == "demo"
    assert job["config"]["why"][0].startswith("runs in check for project demo on every branch")
    assert "^src/" in job["config"]["why"][0]
    project = client.get("/api/project/demo").json()
    assert project["config"]["pipelines"] == {"check": ["unit"]}
    assert project["jobs"][0]["job"] == "unit" and project["jobs"][0]["runs"] == 1
    assert [row["job"] for row in client.get("/api/jobs").json()] == ["unit"]
    trends = client.get("/api/trends", params={"days": 7}).json()
    assert trends["breaking_pipelines"] == ["check"]  # triggered by ref-updated: post-merge
    assert trends["totals"]["runs"] == 1
    config = client.get("/api/config").json()
    assert config["pipelines"] == [{"name": "check", "manager": "independent", "precedence": "normal"}]
    assert config["projects"] == ["demo"] and config["jobs"] == ["unit"] and config["errors"] == []
    assert client.get("/api/job/nope").status_code == 404
    assert server.terminate() == 0
