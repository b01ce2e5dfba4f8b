"""The client verbs against the real server, and the real server on PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import pgserver

from .conftest import Repo, ServerProcess, wait_for

CONFIG = """
- connection: {name: local, driver: git, baseurl: "@ROOT@/repos", poll-interval: 0.5}
- pipeline:
    name: check
    trigger: {local: [{event: ref-updated}]}
- project: {name: demo}
"""
IN_REPO = "- job: {name: unit, run: {script: 'echo hello from unit'}}\n- project: {check: {jobs: [unit]}}\n"


def osci(server: ServerProcess, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, OSCI_SERVER=server.url, OSCI_TOKEN=server.token)
    return subprocess.run(
        [sys.executable, "-m", "osci", *args], capture_output=True, text=True, timeout=60, env=env
    )


def test_client_verbs_drive_the_real_server(make_server, repo: Repo):
    repo.write(".osci.yaml", IN_REPO)
    repo.commit("initial")
    repo.push()
    server = make_server(CONFIG)
    server.start()
    enqueued = osci(server, "enqueue", "--project", "demo", "--pipeline", "check", "--branch", "main")
    assert enqueued.returncode == 0, enqueued.stdout + enqueued.stderr
    (build,) = server.wait_builds(1)
    listed = osci(server, "builds", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [b["uuid"] for b in json.loads(listed.stdout)] == [build["uuid"]]
    shown = osci(server, "build", build["uuid"])
    assert shown.returncode == 0 and "SUCCESS" in shown.stdout
    logs = osci(server, "logs", build["uuid"])
    assert "hello from unit" in logs.stdout
    status = osci(server, "status", "--json")
    assert json.loads(status.stdout)["pipelines"][0]["name"] == "check"


@pytest.fixture(scope="module")
def pg():
    if pgserver.pg_disabled():
        pytest.skip("PostgreSQL tests disabled")
    with pgserver.postgres_server() as factory:
        yield factory


def test_the_server_runs_on_postgresql(make_server, repo: Repo, pg, tmp_path):
    url = pg.create()
    repo.write(".osci.yaml", IN_REPO)
    repo.commit("initial")
    repo.push()
    server = make_server(CONFIG)
    server.extra_args = ["--db", url]
    server.start()
    wait_for(lambda: "watching demo" in server.log(), 20, what="the repository to be watched")
    repo.commit("change")
    repo.push()
    (build,) = server.wait_builds(1)
    assert build["result"] == "SUCCESS"
    assert "osci.db" not in os.listdir(server.data)  # nothing went to SQLite
