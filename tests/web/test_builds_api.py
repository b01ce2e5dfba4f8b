"""Read endpoints: builds, build detail, tests, buildsets, events."""

from __future__ import annotations

from osci.model import Result

from .apikit import Api
from .builders import finished_build, item_buildset, some_tests

SUMMARY_KEYS = {
    "uuid", "job", "project", "branch", "ref", "change", "pipeline", "result", "voting",
    "start_time", "end_time", "duration", "log_url", "buildset",
}  # fmt: skip


def test_builds_list_newest_first_with_filters_and_pages(api: Api) -> None:
    item, buildset = item_buildset(api.store)
    first = finished_build(api.store, api.blobs, "unit", buildset_id=buildset.id)
    second = finished_build(
        api.store, api.blobs, "lint", Result.FAILURE, project="org/other", pipeline="gate"
    )
    third = finished_build(api.store, api.blobs, "unit", Result.FAILURE, project="org/other")

    rows = api.client.get("/api/builds").json()
    assert [row["uuid"] for row in rows] == [third.uuid, second.uuid, first.uuid]
    assert set(rows[0]) >= SUMMARY_KEYS
    assert rows[2]["buildset"] == buildset.uuid and rows[2]["change"] == "42"
    assert rows[0]["buildset"] is None
    assert rows[0]["log_url"] == f"/logs/{third.uuid}/"
    assert rows[2]["duration"] == 90.0 and rows[2]["end_time"].startswith("2026-03-01T12:01:30")

    def uuids(**params: object) -> list[str]:
        response = api.client.get("/api/builds", params=params)
        assert response.status_code == 200, response.text
        return [row["uuid"] for row in response.json()]

    assert uuids(project="org/other") == [third.uuid, second.uuid]
    assert uuids(result="FAILURE", job="unit") == [third.uuid]
    assert uuids(pipeline="gate") == [second.uuid]
    assert uuids(change="42") == [first.uuid]
    assert uuids(branch="nope") == []
    assert uuids(limit=1) == [third.uuid]
    assert uuids(limit=2, skip=1) == [second.uuid, first.uuid]
    assert uuids(skip=5) == []


def test_builds_list_refuses_bad_parameters_with_json(api: Api) -> None:
    for params, status in (
        ({"limit": 0}, 422),
        ({"limit": 1001}, 422),
        ({"limit": "ten"}, 422),
        ({"skip": -1}, 422),
        ({"result": "GREEN"}, 400),
        ({"project": "a\x00b"}, 400),
        ({"job": "x" * 300}, 422),
    ):
        response = api.client.get("/api/builds", params=params)
        assert response.status_code == status, (params, response.text)
        assert response.headers["content-type"] == "application/json"
        assert response.json()["error"], params
    assert "limit" in api.client.get("/api/builds", params={"limit": 0}).json()["error"]
    assert api.client.get("/api/builds", params={"limit": 1000}).status_code == 200


def test_build_detail_has_attempts_tests_artifacts_and_metrics(api: Api) -> None:
    build = finished_build(
        api.store,
        api.blobs,
        result=Result.FAILURE,
        tests=some_tests(),
        artifacts={"report.html": b"<script>alert(1)</script>", "sub dir/a.txt": b"a"},
        interrupted=True,
    )
    doc = api.client.get(f"/api/build/{build.uuid}").json()
    assert doc["uuid"] == build.uuid and doc["result"] == "FAILURE" and doc["state"] == "completed"
    assert doc["tests"] == {"passed": 1, "failed": 1, "error": 1, "skipped": 1, "total": 4}
    assert [a["number"] for a in doc["attempts"]] == [1, 2]
    assert doc["attempts"][0]["interrupted"] is True and doc["attempts"][0]["result"] is None
    assert doc["attempts"][1]["interrupted"] is False and doc["attempts"][1]["result"] == "FAILURE"
    assert doc["attempts"][1]["reason"] == "run step exited 1"
    artifacts = {a["path"]: a for a in doc["artifacts"]}
    assert artifacts["report.html"]["size"] == 25
    assert artifacts["sub dir/a.txt"]["url"] == f"/logs/{build.uuid}/artifacts/sub%20dir/a.txt"
    assert doc["metrics"] == [{"name": "boot_time", "value": 12.5, "unit": "s"}]
    # the artifact URL really serves the file
    assert api.client.get(artifacts["sub dir/a.txt"]["url"]).text == "a"


def test_tests_failures_first_and_filtered(api: Api) -> None:
    build = finished_build(api.store, api.blobs, result=Result.FAILURE, tests=some_tests())
    rows = api.client.get(f"/api/build/{build.uuid}/tests").json()
    assert [row["status"] for row in rows] == ["failed", "error", "skipped", "passed"]
    assert rows[0] == {
        "name": "test_bad",
        "classname": "pkg.A",
        "status": "failed",
        "duration": 0.0,
        "message": "assert 1 == 2",
        "output": "boom",
        "source": None,
    }
    only = api.client.get(f"/api/build/{build.uuid}/tests", params={"status": "skipped"}).json()
    assert [row["name"] for row in only] == ["test_skip"]
    bad = api.client.get(f"/api/build/{build.uuid}/tests", params={"status": "weird"})
    assert bad.status_code == 400 and "expected one of" in bad.json()["error"]


def test_unknown_things_are_json_404s(api: Api) -> None:
    for path in (
        "/api/build/" + "0" * 32,
        "/api/build/" + "0" * 32 + "/tests",
        "/api/build/" + "0" * 32 + "/log",
        "/api/build/not%20a%20uuid",
        "/api/build/%00",
        "/api/buildset/" + "f" * 32,
        "/api/nothing-here",
    ):
        response = api.client.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"], path


def test_buildsets_and_their_builds(api: Api) -> None:
    item, buildset = item_buildset(api.store, project="org/app", change="7")
    unit = finished_build(api.store, api.blobs, "unit", buildset_id=buildset.id)
    lint = finished_build(api.store, api.blobs, "lint", buildset_id=buildset.id)
    _, newer = item_buildset(api.store, project="org/lib", change=None)

    rows = api.client.get("/api/buildsets").json()
    assert [row["uuid"] for row in rows] == [newer.uuid, buildset.uuid]
    assert rows[1]["item"]["project"] == "org/app" and rows[1]["item"]["change"] == "7"
    assert [row["uuid"] for row in api.client.get("/api/buildsets", params={"skip": 1}).json()] == [
        buildset.uuid
    ]

    doc = api.client.get(f"/api/buildset/{buildset.uuid}").json()
    assert [b["uuid"] for b in doc["builds"]] == [unit.uuid, lint.uuid]
    assert all(b["buildset"] == buildset.uuid for b in doc["builds"])
    assert doc["item"]["uuid"] == item.uuid


def test_events_newest_first_with_outcome(api: Api) -> None:
    old = api.store.record_event("git", "ref-updated", project="org/app", ref="refs/heads/main")
    api.store.mark_event_processed(old.id, "enqueued into check")
    new = api.store.record_event("timer", "timer")
    rows = api.client.get("/api/events").json()
    assert [row["uuid"] for row in rows] == [new.uuid, old.uuid]
    assert rows[0]["outcome"] is None and rows[1]["outcome"] == "enqueued into check"
    assert rows[1]["connection"] == "git" and rows[1]["ref"] == "refs/heads/main"
    assert len(api.client.get("/api/events", params={"limit": 1}).json()) == 1
    assert api.client.get("/api/events", params={"limit": 5000}).status_code == 422
