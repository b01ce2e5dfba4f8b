"""Finding the live item and running build a browser test has just pushed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from server.conftest import wait_for

if TYPE_CHECKING:
    from browser.conftest import Dashboard


def status_item(dashboard: Dashboard, rev: str) -> dict[str, Any] | None:
    """The live item testing revision `rev`, as /api/status shows it (None when not queued)."""
    document = dashboard.server.client.get("/api/status").json()
    for pipeline in document["pipelines"]:
        for queue in pipeline["queues"]:
            for item in queue["items"]:
                if item["newrev"] == rev:
                    return item
    return None


def running_job(
    dashboard: Dashboard, rev: str, job: str, timeout: float = 60
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(item, job) once `job` of the item testing `rev` runs and has a build uuid."""

    def found() -> tuple[dict[str, Any], dict[str, Any]] | None:
        item = status_item(dashboard, rev)
        if item is None:
            return None
        entry = next((j for j in item["jobs"] if j["name"] == job), None)
        if entry and entry["state"] == "running" and entry["build"]:
            return item, entry
        return None

    return wait_for(found, timeout, what=f"job {job} of {rev[:10]} to run")


def build_of(dashboard: Dashboard, job: str, result: str) -> dict[str, Any]:
    """The newest finished build of `job` with `result` (the session fixture made one of each)."""
    builds = dashboard.server.client.get("/api/builds", params={"job": job, "result": result}).json()
    assert builds, f"no {result} build of {job}"
    return builds[0]
