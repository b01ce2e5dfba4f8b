"""The gate against the Gerrit double with the real server: changes tested on top of each other,
submitted over REST in queue order (the double merges them into its git repository and emits
change-merged), never the failing one, and a change whose Depends-On (a Change-Id) failed
leaves with it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gerritdouble.double import GerritDouble

from .conftest import ServerProcess, dump, wait_for

PIPELINES = r"""
- pipeline:
    name: gate
    manager: dependent
    trigger:
      upstream:
        - event: patchset-created
- job:
    name: vendor-tests
    run:
      script: |
        sleep 1
        if grep -q broken vendor/driver.py; then exit 1; fi
- project:
    name: org/app
    default-branch: master
    gate: {jobs: [vendor-tests]}
"""


@pytest.fixture
def gerrit(tmp_path: Path):
    with GerritDouble(tmp_path / "gerrit") as double:
        double.create_project("org/app", {"README": "app\n", "vendor/driver.py": "x = 1\n"})
        yield double


def gate_items(server: ServerProcess) -> dict[str, dict[str, Any]]:
    found = {}
    for event in server.events():
        if event["type"] == "patchset-created":
            found[event["change"]] = {
                **(event["items"][0] if event["items"] else {}),
                "outcome": event["outcome"],
            }
    return found


def test_gerrit_gate_submits_in_order_never_the_failing_change(make_server, gerrit: GerritDouble):
    server = make_server(gerrit.connection_yaml() + "\n" + PIPELINES)
    server.start()
    wait_for(lambda: gerrit.sshd.stream_count() > 0, 30, what="the server to follow stream-events")
    a, _ = gerrit.upload("org/app", {"a.txt": "a\n"}, subject="A")
    b, _ = gerrit.upload("org/app", {"vendor/driver.py": "broken\n"}, subject="B")
    c, _ = gerrit.upload("org/app", {"c.txt": "c\n"}, subject="C")
    b_id = gerrit.changes.get(b).change_id
    d, _ = gerrit.upload("org/app", {"d.txt": "d\n"}, subject=f"D\n\nDepends-On: {b_id}")

    def done() -> dict[str, dict[str, Any]] | None:
        found = gate_items(server)
        keys = [str(n) for n in (a, b, c, d)]
        ok = all(k in found and found[k].get("state") not in (None, "waiting", "active") for k in keys)
        return found if ok else None

    found = wait_for(done, 90, 0.3, what="the gate to finish")
    results = {k: v.get("result") for k, v in found.items()}
    assert results == {str(a): "SUCCESS", str(b): "FAILURE", str(c): "SUCCESS", str(d): "FAILURE"}, dump(
        found
    )
    assert gerrit.submitted == [a, c]
    assert gerrit.changes.get(b).status == "NEW" and gerrit.changes.get(a).status == "MERGED"
    tip = gerrit.git.tip("org/app", "master")
    files = gerrit.git.rev("org/app", f"{tip}:a.txt"), gerrit.git.rev("org/app", f"{tip}:c.txt")
    assert all(files)
    submits = [r for r in gerrit.rest.requests if r.path.endswith("/submit")]
    assert [r.path.split("/")[3] for r in submits] == [f"org%2Fapp~{a}", f"org%2Fapp~{c}"]
