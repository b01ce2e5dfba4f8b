"""The dashboard's extensions of the lists: builds (author, state, q, test counters), buildsets
(filters, build counts, job graph), events (the items they made) and /api/config."""

from __future__ import annotations

from osci.model import FrozenJob, Result, TestStatus

from .apikit import Api
from .statsdata import case, ended


def _uuids(api: Api, path: str, **params: object) -> list[str]:
    response = api.client.get(path, params=params)
    assert response.status_code == 200, response.text
    return [row["uuid"] for row in response.json()]


def test_builds_carry_author_newrev_and_test_counters(api: Api) -> None:
    build = ended(
        api.store,
        tests=[case("a", TestStatus.PASSED), case("b", TestStatus.FAILED), case("c", TestStatus.SKIPPED)],
        author="Alice Liddell",
        newrev="f" * 40,
    )
    (row,) = api.client.get("/api/builds").json()
    assert row["uuid"] == build.uuid
    assert row["author"] == "Alice Liddell" and row["newrev"] == "f" * 40
    assert row["tests"] == {"passed": 1, "failed": 1, "error": 0, "skipped": 1}
    detail = api.client.get(f"/api/build/{build.uuid}").json()
    assert detail["tests"]["total"] == 3 and detail["author"] == "Alice Liddell"


def test_builds_filter_by_author_state_and_search(api: Api) -> None:
    alice = ended(api.store, "unit", author="alice", project="org/app", change="100")
    bob = ended(api.store, "lint-docs", Result.FAILURE, author="Bob", project="org/web", change="200")
    waiting = api.store.create_build("pep8", project="org/app", author="carol")
    running = api.store.create_build("pep8", project="org/app", author="carol")
    api.store.start_build(running.uuid, "local-1")

    assert _uuids(api, "/api/builds", author="alice") == [alice.uuid]
    assert _uuids(api, "/api/builds", author="bob") == []  # an exact filter
    assert _uuids(api, "/api/builds", state="waiting") == [waiting.uuid]
    assert _uuids(api, "/api/builds", state="running") == [running.uuid]
    assert _uuids(api, "/api/builds", state="completed") == [bob.uuid, alice.uuid]
    # q: case-insensitive substring of job, project, change or author
    assert _uuids(api, "/api/builds", q="LINT") == [bob.uuid]
    assert _uuids(api, "/api/builds", q="org/web") == [bob.uuid]
    assert _uuids(api, "/api/builds", q="10") == [alice.uuid]
    assert _uuids(api, "/api/builds", q="bob") == [bob.uuid]
    assert _uuids(api, "/api/builds", q="Carol") == [running.uuid, waiting.uuid]
    assert _uuids(api, "/api/builds", q="%") == []  # LIKE wildcards are plain characters
    assert _uuids(api, "/api/builds", q="_") == []
    assert _uuids(api, "/api/builds", q="carol", state="running") == [running.uuid]


def test_builds_refuse_bad_new_filters(api: Api) -> None:
    for params, status in (
        ({"state": "sleeping"}, 400),
        ({"q": "x" * 101}, 422),
        ({"q": "a\x01"}, 400),
        ({"author": "a\nb"}, 400),
        ({"author": "x" * 300}, 422),
    ):
        response = api.client.get("/api/builds", params=params)
        assert response.status_code == status, (params, response.text)
        assert response.json()["error"]


def test_buildsets_filter_and_count_their_builds(api: Api) -> None:
    item = api.store.create_item("check", "org/app", branch="main", change="7", newrev="r1")
    first = api.store.create_buildset(item.id, {"jobs": [], "dependencies": {}})
    ended(api.store, "unit", buildset_id=first.id)
    ended(api.store, "lint", Result.FAILURE, buildset_id=first.id)
    ended(api.store, "docs", Result.RETRY_LIMIT, buildset_id=first.id)
    running = api.store.create_build("slow", buildset_id=first.id)
    api.store.start_build(running.uuid, "local-1")
    api.store.create_build("later", buildset_id=first.id)
    api.store.complete_buildset(first.uuid, "FAILURE")
    other = api.store.create_item("gate", "org/web", branch="main", change="8", newrev="r2")
    second = api.store.create_buildset(other.id, {"jobs": [], "dependencies": {}})

    rows = api.client.get("/api/buildsets").json()
    assert [row["uuid"] for row in rows] == [second.uuid, first.uuid]
    assert rows[1]["builds"] == {"total": 5, "passed": 1, "failed": 1, "infra": 1, "running": 1}
    assert rows[0]["builds"] == {"total": 0, "passed": 0, "failed": 0, "infra": 0, "running": 0}
    assert _uuids(api, "/api/buildsets", project="org/app") == [first.uuid]
    assert _uuids(api, "/api/buildsets", pipeline="gate") == [second.uuid]
    assert _uuids(api, "/api/buildsets", change="7") == [first.uuid]
    assert _uuids(api, "/api/buildsets", result="FAILURE") == [first.uuid]
    assert _uuids(api, "/api/buildsets", project="org/app", pipeline="gate") == []
    response = api.client.get("/api/buildsets", params={"project": "a\x00"})
    assert response.status_code == 400 and response.json()["error"]


def test_buildset_graph_shows_names_dependencies_and_voting_only(api: Api) -> None:
    item = api.store.create_item("check", "org/app", branch="main")
    jobs = [
        FrozenJob("build", vars={"password": "hunter2"}),
        FrozenJob("test", dependencies=["build"], voting=False, vars={"token": "s3cr3t"}),
    ]
    buildset = api.store.create_buildset(item.id, jobs)
    detail = api.client.get(f"/api/buildset/{buildset.uuid}").json()
    assert detail["graph"] == {
        "jobs": [
            {"name": "build", "dependencies": [], "voting": True},
            {"name": "test", "dependencies": ["build"], "voting": False},
        ]
    }
    assert "hunter2" not in str(detail) and "s3cr3t" not in str(detail)
    empty = api.store.create_buildset(item.id, {})
    assert api.client.get(f"/api/buildset/{empty.uuid}").json()["graph"] == {"jobs": []}


def test_events_list_the_items_they_made_and_filter(api: Api) -> None:
    push = api.store.record_event("git", "ref-updated", project="org/app", branch="main")
    review = api.store.record_event("gerrit", "patchset-created", project="org/web", change="5")
    api.store.event_handled(
        push.uuid,
        "enqueued into post",
        [{"uuid": "item-a", "pipeline": "post", "project": "org/app", "branch": "main"}],
    )
    item = api.store.get_item("item-a")
    buildset = api.store.create_buildset(item.id, {"jobs": [], "dependencies": {}})
    rows = api.client.get("/api/events").json()
    assert [row["uuid"] for row in rows] == [review.uuid, push.uuid]
    assert rows[0]["items"] == []
    assert rows[1]["items"] == [
        {"uuid": "item-a", "pipeline": "post", "state": "waiting", "result": None, "buildset": buildset.uuid}
    ]
    assert _uuids(api, "/api/events", project="org/web") == [review.uuid]
    assert _uuids(api, "/api/events", type="ref-updated") == [push.uuid]
    assert _uuids(api, "/api/events", type="ref-updated", project="org/web") == []
    assert api.client.get("/api/events", params={"type": "\x1b[31m"}).status_code == 400


def test_config_lists_pipelines_projects_jobs_and_loads(api: Api) -> None:
    api.server.jobs = {"unit": {}, "lint": {}}
    api.server.projects = {"org/app": {}}
    api.server.errors = [{"file": "osci.yaml", "line": 3, "column": 1, "message": "bad"}]
    api.store.record_config_load(True, source="/etc/osci")
    api.store.record_config_load(False, api.server.errors, source="/etc/osci")
    data = api.client.get("/api/config").json()
    assert data["errors"] == api.server.errors
    assert [load["ok"] for load in data["loads"]] == [False, True]
    assert data["loads"][0]["errors"] == api.server.errors and data["loads"][0]["source"] == "/etc/osci"
    assert data["pipelines"] == [
        {"name": "check", "manager": "independent", "precedence": "normal"},
        {"name": "gate", "manager": "dependent", "precedence": "normal"},
    ]
    assert data["projects"] == ["org/app"] and data["jobs"] == ["lint", "unit"]
    for _ in range(25):
        api.store.record_config_load(True)
    assert len(api.client.get("/api/config").json()["loads"]) == 20
