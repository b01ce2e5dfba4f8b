"""Fair share through the real server: one lab host, a flood from one project, then one change
of another project: the other project's build is the next to get the node (order, not time)."""

from __future__ import annotations

from pathlib import Path

from .conftest import Repo, wait_for
from .test_static_e2e import CENTRAL


def live_items(server) -> int:
    """Items planned, their builds waiting for a node or running."""
    status = server.client.get("/api/status").json()
    items = [i for p in status["pipelines"] for q in p["queues"] for i in q["items"]]
    return sum(1 for i in items if i["state"] == "active" and i["jobs"])


def test_a_flood_from_one_project_does_not_starve_another(make_server, make_lab, tmp_path: Path):
    lab = make_lab(1)
    busy, quiet = Repo(tmp_path, "busy"), Repo(tmp_path, "quiet")
    for repo in (busy, quiet):
        repo.write("README", "x\n")
        repo.commit("initial")
        repo.push()
    projects = "".join(
        f"- project:\n    name: {name}\n    check: {{jobs: [held]}}\n" for name in ("busy", "quiet")
    )
    server = make_server(lab.provider_yaml() + CENTRAL + projects)
    server.start()
    wait_for(lambda: server.log().count("watching") >= 2, 20, what="the connection to see both repositories")

    for n in range(4):  # busy's first build takes the only node and waits; three more queue behind it
        busy.write("code.py", f"x = {n}\n")
        busy.commit(f"busy {n}")
        busy.push()
        wait_for(lambda n=n: live_items(server) == n + 1, 30, what=f"busy change {n} to be enqueued")
    wait_for(lambda: list(tmp_path.glob("started-held-*")), 60, what="the first build to take the node")
    quiet.write("code.py", "y = 1\n")
    quiet.commit("quiet 0")
    quiet.push()
    wait_for(lambda: live_items(server) == 5, 30, what="quiet's change to be enqueued")

    (tmp_path / "go").touch()
    builds = server.wait_builds(5, timeout=120)
    assert {b["result"] for b in builds} == {"SUCCESS"}
    order = [b["project"] for b in sorted(builds, key=lambda b: b["start_time"])]
    # FIFO would run quiet's build last; fair share gives quiet the node as soon as it is free
    assert order == ["busy", "quiet", "busy", "busy", "busy"], order
