"""The gate end to end: the real server, real bare git repositories, changes proposed as
refs/proposals/<branch>/<name>, a dependent pipeline merging into main."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from .conftest import Repo, ServerProcess, dump, wait_for

CONFIG = """
- connection:
    name: local
    driver: git
    baseurl: @ROOT@/repos
    poll-interval: 0.3
- pipeline:
    name: gate
    manager: dependent
    failure-policy: @POLICY@
    trigger:
      local:
        - event: [proposal-created, proposal-updated]
- job:
    name: tests
    run:
      script: |
        echo "$(git rev-parse HEAD)" >> @ROOT@/seen.txt
        sleep 1
        if [ -f BAD ]; then echo "BAD is here"; exit 1; fi
- project:
    name: demo
    queue: shared
    gate: {jobs: [tests]}
- project:
    name: lib
    queue: shared
    gate: {jobs: [tests]}
"""


def git(cwd: Path, *args: str) -> str:
    return Repo._git(cwd, *args)


def start(make_server, tmp_path: Path, *repos: Repo, policy: str = "screen") -> ServerProcess:
    for repo in repos:
        repo.write("README", f"{repo.name}\n")
        repo.commit("initial")
        repo.push()
        git(repo.bare, "config", "core.logAllRefUpdates", "always")  # every value main takes
    server = make_server(CONFIG.replace("@POLICY@", policy))
    server.start()
    state = tmp_path / "data" / "connections" / "local" / "refs.json"
    for repo in repos:
        wait_for(lambda r=repo: state.exists() and f'"{r.name}"' in state.read_text(), 30,
                 what="the first poll")  # fmt: skip
    return server


def propose(repo: Repo, name: str, files: dict[str, str], message: str = "") -> str:
    git(repo.work, "checkout", "-q", "-B", f"p-{name}", "origin/main")
    for path, text in files.items():
        repo.write(path, text)
    sha = repo.commit(message or f"change {name}")
    git(repo.work, "push", "-q", "origin", f"HEAD:refs/proposals/main/{name}")
    return sha


def items(server: ServerProcess) -> dict[str, dict[str, Any]]:
    """change -> its gate item (as the events API shows it)."""
    found = {}
    for event in server.events():
        if event["type"].startswith("proposal-") and event["items"]:
            found[event["change"]] = {**event["items"][0], "outcome": event["outcome"]}
    return found


def closed(server: ServerProcess, changes: list[str], timeout: float = 60) -> dict[str, dict[str, Any]]:
    def done() -> dict[str, dict[str, Any]] | None:
        found = items(server)
        ok = all(c in found and found[c]["state"] not in ("waiting", "active") for c in changes)
        return found if ok else None

    return wait_for(done, timeout, 0.3, what=f"{changes} to leave the gate")


def main_values(repo: Repo) -> list[str]:
    """Every commit main has pointed at since logging began, oldest first (the bare's reflog)."""
    out = git(repo.bare, "reflog", "show", "--format=%H", "refs/heads/main")
    return list(reversed(out.splitlines()))


def seen(tmp_path: Path) -> set[str]:
    path = tmp_path / "seen.txt"
    return set(path.read_text().split()) if path.exists() else set()


@pytest.mark.parametrize("policy", ["screen", "retry", "zuul"])
def test_a_failing_change_is_never_merged_and_main_only_holds_tested_trees(
    make_server, tmp_path: Path, policy: str
):
    repo = Repo(tmp_path, "demo")
    server = start(make_server, tmp_path, repo, policy=policy)
    initial = git(repo.bare, "rev-parse", "main")
    propose(repo, "c1", {"one": "1\n"})
    propose(repo, "c2", {"two": "2\n"})
    propose(repo, "c3", {"BAD": "x\n"})
    propose(repo, "c4", {"four": "4\n"})
    found = closed(server, ["main/c1", "main/c2", "main/c3", "main/c4"])
    results = {c: found[c]["result"] for c in found}
    assert results == {"main/c1": "SUCCESS", "main/c2": "SUCCESS", "main/c3": "FAILURE",
                       "main/c4": "SUCCESS"}, dump(found)  # fmt: skip
    files = git(repo.bare, "ls-tree", "--name-only", "main").split()
    assert sorted(files) == ["README", "four", "one", "two"]
    # the merged changes went in in queue order
    history = git(repo.bare, "rev-list", "--first-parent", "--reverse", f"{initial}..main").split()
    added = [git(repo.bare, "diff-tree", "--no-commit-id", "--name-only", "-r", f"{c}^1", c) for c in history]
    assert added == ["one", "two", "four"], added
    # every commit main pointed at after the start is one a build tested (and passed on)
    values = main_values(repo)  # logged from the first push by the gate on
    assert values and values[-1] == git(repo.bare, "rev-parse", "main")
    assert set(values) <= seen(tmp_path), (values, seen(tmp_path))
    # merged proposals are gone; the failing one stays for its author
    refs = git(repo.bare, "for-each-ref", "--format=%(refname)", "refs/proposals")
    assert refs.split() == ["refs/proposals/main/c3"]
    assert server.process.poll() is None


def test_a_merge_conflict_is_reported_and_the_rest_merges(make_server, tmp_path: Path):
    repo = Repo(tmp_path, "demo")
    server = start(make_server, tmp_path, repo)
    propose(repo, "a", {"same": "from a\n"})
    propose(repo, "b", {"same": "from b\n"})  # both add `same`: b cannot merge after a
    propose(repo, "c", {"other": "c\n"})
    found = closed(server, ["main/a", "main/b", "main/c"])
    assert found["main/a"]["result"] == "SUCCESS"
    assert found["main/b"]["result"] == "MERGE_CONFLICT", dump(found)
    assert found["main/c"]["result"] == "SUCCESS"
    assert git(repo.bare, "show", "main:same") == "from a"
    status = server.client.get("/api/status").json()
    (gate,) = [p for p in status["pipelines"] if p["name"] == "gate"]
    assert gate["manager"] == "dependent"


def test_depends_on_across_two_repositories(make_server, tmp_path: Path):
    lib, app = Repo(tmp_path, "lib"), Repo(tmp_path, "demo")
    server = start(make_server, tmp_path, lib, app)
    # app's change needs lib's: proposed first, it stays out with a clear message
    propose(app, "early", {"uses-lib": "1\n"}, "app early\n\nDepends-On: lib:refs/proposals/main/missing\n")
    found = closed(server, ["main/early"])
    assert found["main/early"]["result"] == "FAILURE"
    # lib's change enters first, then app's depending on it: tested on top of it, merged after it
    propose(lib, "feature", {"feature": "1\n"}, "lib feature")
    wait_for(lambda: "main/feature" in items(server), 30, what="lib's item")
    propose(app, "use", {"uses-feature": "1\n"}, "app use\n\nDepends-On: lib:refs/proposals/main/feature\n")
    found = closed(server, ["main/feature", "main/use"])
    assert found["main/feature"]["result"] == "SUCCESS" and found["main/use"]["result"] == "SUCCESS"
    assert git(lib.bare, "show", "main:feature") == "1"
    assert git(app.bare, "show", "main:uses-feature") == "1"
    # a change depending on a failing one leaves with it
    propose(lib, "broken", {"BAD": "1\n"}, "lib broken")
    wait_for(lambda: "main/broken" in items(server), 30, what="lib's broken item")
    propose(app, "needs-broken", {"x": "1\n"}, "app\n\nDepends-On: lib:refs/proposals/main/broken\n")
    found = closed(server, ["main/broken", "main/needs-broken"])
    assert found["main/broken"]["result"] == "FAILURE"
    assert found["main/needs-broken"]["result"] == "FAILURE"
    with pytest.raises(subprocess.CalledProcessError):
        git(app.bare, "show", "main:x")


def test_a_gate_triggered_by_a_connection_that_cannot_merge_stops_the_server(tmp_path: Path):
    """A dependent pipeline merges what passes: one fed by the timer could never merge anything,
    so the server refuses the configuration at start (file and line) instead of at merge time."""
    config = tmp_path / "osci.yaml"
    config.write_text(
        "- pipeline:\n"
        "    name: nightly-gate\n"
        "    manager: dependent\n"
        "    trigger:\n"
        "      timer:\n"
        "        - event: timer\n"
        "          time: '0 3 * * *'\n"
    )
    server = ServerProcess(tmp_path, config)
    try:
        with pytest.raises(AssertionError, match="server exited with 1"):
            server.start()
        assert "connection 'timer' (timer) cannot merge" in server.log()
        assert "osci.yaml:1" in server.log()
    finally:
        server.client.close()


INTEGRATION_JOB = """
- job:
    name: integration
    required-projects: [lib]
    run:
      script: |
        lib=.osci/projects/lib
        echo "$(git rev-parse HEAD) $(git -C $lib rev-parse HEAD) $(ls $lib | tr '\\n' ,)" >> @ROOT@/integration.txt
        test -z "$(git status --porcelain)"  # the required projects stay out of the project's git
"""


def test_required_projects_are_checked_out_at_the_state_the_gate_tested(make_server, tmp_path: Path):
    """In a queue shared by lib and demo, demo's job that requires lib gets lib as the gate
    built it under demo's change: with lib's change ahead of it."""
    lib, app = Repo(tmp_path, "lib"), Repo(tmp_path, "demo")
    for repo in (lib, app):
        repo.write("README", f"{repo.name}\n")
        repo.commit("initial")
        repo.push()
    config = CONFIG.replace("@POLICY@", "screen").replace(
        "    name: demo\n    queue: shared\n    gate: {jobs: [tests]}",
        "    name: demo\n    queue: shared\n    gate: {jobs: [tests, integration]}",
    ) + INTEGRATION_JOB
    server = make_server(config)
    server.start()
    state = tmp_path / "data" / "connections" / "local" / "refs.json"
    wait_for(lambda: state.exists() and '"lib"' in state.read_text() and '"demo"' in state.read_text(), 30,
             what="the first poll")  # fmt: skip
    propose(lib, "feature", {"feature": "1\n"}, "lib feature")
    wait_for(lambda: "main/feature" in items(server), 30, what="lib's item")
    propose(app, "use", {"uses-feature": "1\n"}, "app use\n\nDepends-On: lib:refs/proposals/main/feature\n")
    found = closed(server, ["main/feature", "main/use"])
    assert found["main/feature"]["result"] == "SUCCESS" and found["main/use"]["result"] == "SUCCESS", dump(found)
    merged_app = git(app.bare, "rev-parse", "main")
    merged_lib = git(lib.bare, "rev-parse", "main")
    lines = [line.split() for line in (tmp_path / "integration.txt").read_text().splitlines()]
    tested = [line for line in lines if line[0] == merged_app]
    assert tested, lines  # the commit demo's main got is one its integration job ran on...
    for _, lib_commit, listing in tested:  # ...with lib's change in it, at the commit lib's main got
        assert "feature" in listing.split(","), lines
        assert lib_commit == merged_lib, (lines, merged_lib)
