"""History and statistics: jobs, projects, tests, test history and trends, over a real store."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from osci.model import Result, TestStatus

from .apikit import Api
from .statsdata import NOW, case, ended

P, F, E, S = TestStatus.PASSED, TestStatus.FAILED, TestStatus.ERROR, TestStatus.SKIPPED
JOB_CONFIG = {
    "definition": {"name": "unit", "run": [{"path": "run.sh"}], "vars": {}},
    "variants": [{"location": "osci.yaml:10", "branches": None}],
    "runs_in": [
        {
            "project": "org/app",
            "pipeline": "check",
            "branches": None,
            "files": ["^src/"],
            "irrelevant_files": None,
            "location": "osci.yaml:30",
        }
    ],
    "why": ["runs in check for project org/app on every branch; only when a changed file matches ^src/"],
}


def _get(api: Api, path: str, **params: object) -> object:
    response = api.client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def _day(days_ago: int) -> str:
    from datetime import timedelta

    return (NOW - timedelta(days=days_ago)).date().isoformat()


def test_jobs_count_passed_failed_and_infra_apart(api: Api) -> None:
    ended(api.store, "unit", Result.SUCCESS, days_ago=2, duration=30)
    ended(api.store, "unit", Result.FAILURE, days_ago=1, duration=60)
    ended(api.store, "unit", Result.ERROR, days_ago=1, duration=10)
    ended(api.store, "unit", Result.RETRY_LIMIT, days_ago=1, duration=20)
    ended(api.store, "unit", Result.ABORTED, days_ago=0)  # in neither, left out of rates
    ended(api.store, "unit", Result.SUCCESS, days_ago=40)  # outside a 30-day window
    ended(api.store, "lint", Result.TIMED_OUT, days_ago=0, duration=100)
    api.server.jobs = {"never-ran": {}}

    rows = _get(api, "/api/jobs")
    assert [row["job"] for row in rows] == ["lint", "never-ran", "unit"]
    lint, never, unit = rows
    assert (unit["runs"], unit["passed"], unit["failed"], unit["infra"]) == (4, 1, 1, 2)
    assert unit["pass_rate"] == 0.25 and unit["avg_duration"] == 30.0
    assert unit["last_result"] == "ABORTED" and unit["last_end_time"].startswith(_day(0))
    assert (lint["failed"], lint["pass_rate"]) == (1, 0.0)
    assert never == {
        "job": "never-ran", "runs": 0, "passed": 0, "failed": 0, "infra": 0, "pass_rate": None,
        "avg_duration": None, "last_result": None, "last_end_time": None,
    }  # fmt: skip
    longer = {row["job"]: row for row in _get(api, "/api/jobs", days=365)}
    assert longer["unit"]["runs"] == 5
    # today: unit only has an aborted build, and is not configured
    assert {row["job"]: row["runs"] for row in _get(api, "/api/jobs", days=1)} == {"lint": 1, "never-ran": 0}


def test_job_page_has_totals_series_recent_and_config(api: Api) -> None:
    ended(api.store, "unit", Result.SUCCESS, days_ago=3, duration=30)
    ended(api.store, "unit", Result.SUCCESS, days_ago=3, duration=50)
    ended(api.store, "unit", Result.FAILURE, days_ago=1, duration=20)
    last = ended(api.store, "unit", Result.ERROR, days_ago=1, duration=20)
    api.server.jobs = {"unit": JOB_CONFIG}

    page = _get(api, "/api/job/unit", days=7)
    assert page["name"] == "unit" and page["days"] == 7
    assert page["totals"] == {
        "runs": 4, "passed": 2, "failed": 1, "infra": 1, "pass_rate": 0.5, "failure_rate": 0.25,
        "infra_rate": 0.25, "avg_duration": 30.0,
    }  # fmt: skip
    assert page["series"] == [
        {"day": _day(3), "runs": 2, "passed": 2, "failed": 0, "infra": 0, "pass_rate": 1.0, "avg_duration": 40.0},
        {"day": _day(1), "runs": 2, "passed": 0, "failed": 1, "infra": 1, "pass_rate": 0.0, "avg_duration": 20.0},
    ]  # fmt: skip
    assert page["recent"][0]["uuid"] == last.uuid and len(page["recent"]) == 4
    assert page["config"] == JOB_CONFIG


def test_job_page_404_and_bad_input(api: Api) -> None:
    ended(api.store, "built-only", days_ago=1)
    assert _get(api, "/api/job/built-only")["config"] is None
    api.server.jobs = {"configured/only": JOB_CONFIG}
    page = _get(api, f"/api/job/{quote('configured/only', safe='')}")
    assert page["name"] == "configured/only" and page["totals"]["runs"] == 0 and page["series"] == []
    for path, params, status in (
        ("/api/job/nope", {}, 404),
        (f"/api/job/{'x' * 400}", {}, 404),
        ("/api/job/a%01b", {}, 400),
        ("/api/job/built-only", {"days": 0}, 422),
        ("/api/job/built-only", {"days": 366}, 422),
        ("/api/job/built-only", {"days": "week"}, 422),
        ("/api/jobs", {"days": -1}, 422),
    ):
        response = api.client.get(path, params=params)
        assert response.status_code == status, (path, params, response.text)
        assert response.json()["error"]


def test_projects_and_project_page(api: Api) -> None:
    item = api.store.create_item("check", "org/app", branch="main", change="9")
    buildset = api.store.create_buildset(item.id, {"jobs": [], "dependencies": {}})
    ended(api.store, "unit", Result.FAILURE, buildset_id=buildset.id, days_ago=1)
    ended(api.store, "unit", Result.SUCCESS, project="org/app", days_ago=2)
    ended(api.store, "lint", Result.SUCCESS, project="org/app", days_ago=2)
    ended(api.store, "unit", Result.SUCCESS, project="org/web", days_ago=2)
    api.server.projects = {
        "org/app": {
            "default_branch": "main",
            "merge_mode": "merge",
            "queue": None,
            "pipelines": {"check": ["unit", "lint", "docs"]},
        }
    }
    rows = _get(api, "/api/projects")
    assert [row["project"] for row in rows] == ["org/app", "org/web"]
    assert rows[0] == {
        "project": "org/app", "runs": 3, "passed": 2, "failed": 1, "infra": 0,
        "failure_rate": pytest.approx(1 / 3), "last_result": "FAILURE",
    }  # fmt: skip

    page = _get(api, f"/api/project/{'org/app'}")
    assert page["name"] == "org/app" and page["totals"]["runs"] == 3
    assert [day["day"] for day in page["series"]] == [_day(2), _day(1)]
    assert {job["job"]: (job["runs"], job["last_result"]) for job in page["jobs"]} == {
        "docs": (0, None),
        "lint": (1, "SUCCESS"),
        "unit": (2, "FAILURE"),
    }
    assert len(page["recent"]) == 3 and all(row["project"] == "org/app" for row in page["recent"])
    assert [entry["uuid"] for entry in page["buildsets"]] == [buildset.uuid]
    assert page["buildsets"][0]["builds"]["failed"] == 1
    assert page["config"]["pipelines"] == {"check": ["unit", "lint", "docs"]}
    assert _get(api, "/api/project/org/web")["config"] is None
    assert api.client.get("/api/project/org/none").status_code == 404
    assert api.client.get("/api/project/org%00x").status_code == 400


def test_tests_list_search_and_filters(api: Api) -> None:
    ended(api.store, "unit", tests=[case("test_login", P), case("test_logout", F)], days_ago=2)
    ended(api.store, "unit", tests=[case("test_login", F), case("test_logout", S)], days_ago=1)
    ended(api.store, "func", project="org/web", tests=[case("test_login", P)], days_ago=1)

    rows = _get(api, "/api/tests")
    keys = [(row["name"], row["job"], row["project"]) for row in rows]
    assert [name for name, _, _ in keys] == ["test_login", "test_login", "test_logout"]  # in name order
    assert sorted(keys) == [
        ("test_login", "func", "org/web"),
        ("test_login", "unit", "org/app"),
        ("test_logout", "unit", "org/app"),
    ]
    login_unit = next(row for row in rows if row["job"] == "unit" and row["name"] == "test_login")
    assert (login_unit["runs"], login_unit["failures"], login_unit["failure_rate"]) == (2, 1, 0.5)
    assert login_unit["last_status"] == "failed" and login_unit["last_time"].startswith(_day(1))
    assert rows[2]["runs"] == 1 and rows[2]["last_status"] == "skipped"  # skips are not runs
    assert [row["name"] for row in _get(api, "/api/tests", q="LOGOUT")] == ["test_logout"]
    assert len(_get(api, "/api/tests", job="unit")) == 2
    assert len(_get(api, "/api/tests", project="org/web")) == 1
    assert _get(api, "/api/tests", days=1) == []  # today only
    assert len(_get(api, "/api/tests", days=2)) == 3
    assert _get(api, "/api/tests", limit=1, skip=1) == rows[1:2]
    assert _get(api, "/api/tests", q="%") == []
    for params in ({"q": "a\x00"}, {"job": "\x7f\x01"}):
        assert api.client.get("/api/tests", params=params).status_code == 400
    assert api.client.get("/api/tests", params={"q": "x" * 101}).status_code == 422


def test_fragile_tests_are_ordered_by_failures_and_marked_flaky(api: Api) -> None:
    # test_a fails twice on rev1 in unit and once in func, and passed on rev1 too: flaky.
    ended(api.store, "unit", newrev="rev1", tests=[case("test_a", P), case("test_b", F)], days_ago=2)
    ended(api.store, "unit", newrev="rev1", tests=[case("test_a", F), case("test_b", F)], days_ago=1)
    ended(api.store, "unit", newrev="rev2", tests=[case("test_a", E), case("test_c", P)], days_ago=1)
    ended(api.store, "func", newrev="rev3", tests=[case("test_a", F)], days_ago=1)

    rows = _get(api, "/api/tests/fragile")
    assert [(row["name"], row["failures"], row["runs"]) for row in rows] == [
        ("test_a", 3, 4),
        ("test_b", 2, 2),
    ]
    assert rows[0]["flaky"] is True and rows[0]["jobs"] == ["func", "unit"]
    assert rows[1]["flaky"] is False and rows[1]["failure_rate"] == 1.0 and rows[1]["jobs"] == ["unit"]
    assert [row["name"] for row in _get(api, "/api/tests/fragile", limit=1)] == ["test_a"]
    assert _get(api, "/api/tests/fragile", job="func")[0]["failures"] == 1
    assert _get(api, "/api/tests/fragile", project="org/none") == []
    assert api.client.get("/api/tests/fragile", params={"limit": 0}).status_code == 422


def test_history_flips_flaky_revisions_and_hostile_names(api: Api) -> None:
    name = "<img src=x onerror=alert(1)>/weird name"
    first = ended(api.store, "unit", newrev="r1", tests=[case(name, P)], days_ago=4)
    ended(api.store, "unit", newrev="r1", tests=[case(name, F, message="boom")], days_ago=3)
    ended(api.store, "unit", newrev="r2", tests=[case(name, S)], days_ago=2)
    ended(api.store, "unit", newrev="r2", tests=[case(name, F)], days_ago=2)
    ended(api.store, "other", newrev="r9", tests=[case(name, P)], days_ago=1)
    last = ended(api.store, "unit", newrev="r3", change="77", tests=[case(name, P)], days_ago=1)

    data = _get(api, "/api/test/history", name=name)
    assert data["name"] == name and data["classname"] == "pkg.T"
    history = data["history"]
    assert history[0]["build"] == last.uuid and history[-1]["build"] == first.uuid
    assert history[0]["change"] == "77" and history[0]["pipeline"] == "check"
    # unit, oldest first: P F (S) F P -> pairs P-F, F-F, F-P: 2 flips of 3; "other" has one result
    assert (data["flips"], data["flip_rate"]) == (2, pytest.approx(2 / 3))
    assert (data["runs"], data["failures"], data["failure_rate"]) == (5, 2, 0.4)
    assert data["flaky_revisions"] == ["r1"]
    assert [entry["flaky"] for entry in history] == [False, False, False, False, True, True]
    assert [entry["message"] for entry in history if entry["status"] == "failed"] == [None, "boom"]

    only_other = _get(api, "/api/test/history", name=name, job="other")
    assert only_other["runs"] == 1 and only_other["flips"] == 0 and only_other["flip_rate"] is None
    assert len(_get(api, "/api/test/history", name=name, limit=2)["history"]) == 2
    assert _get(api, "/api/test/history", name=name, classname="pkg.T")["runs"] == 5
    for params, status in (
        ({"name": "unknown"}, 404),
        ({"name": name, "classname": "other.Class"}, 404),
        ({"name": name, "job": "nope"}, 404),
        ({}, 422),
        ({"name": ""}, 422),
        ({"name": "x" * 5000}, 422),
        ({"name": "a\x00b"}, 400),
        ({"name": name, "limit": 0}, 422),
    ):
        response = api.client.get("/api/test/history", params=params)
        assert response.status_code == status, (params, response.text)
        assert response.json()["error"]


def test_trends_separate_infra_from_failures_and_name_breakers(api: Api) -> None:
    for _ in range(3):
        ended(api.store, "unit", Result.SUCCESS, pipeline="check", author="alice", days_ago=2)
    ended(api.store, "unit", Result.FAILURE, pipeline="check", author="alice", days_ago=1)  # check: no blame
    ended(api.store, "unit", Result.FAILURE, pipeline="gate", author="bob", days_ago=1)
    ended(api.store, "unit", Result.TIMED_OUT, pipeline="gate", author="bob", project="org/web", days_ago=1)
    ended(api.store, "unit", Result.ERROR, pipeline="gate", author="carol", days_ago=1)  # infra: no blame
    ended(api.store, "unit", Result.SUCCESS, pipeline="gate", author="carol", days_ago=1)
    ended(api.store, "unit", Result.SUCCESS, pipeline="gate", author="alice", days_ago=1)
    ended(api.store, "lint", Result.RETRY_LIMIT, pipeline="check", days_ago=0)
    ended(api.store, "lint", Result.SUCCESS, pipeline="check", days_ago=0)
    ended(api.store, "lint", Result.SUCCESS, pipeline="check", days_ago=0)
    ended(api.store, "rare", Result.FAILURE, pipeline="check", days_ago=0)  # under 3 runs
    ended(api.store, "unit", Result.FAILURE, pipeline="gate", author="bob", days_ago=60)  # too old
    ended(api.store, "unit", Result.ABORTED, pipeline="gate", author="dave", days_ago=1)
    ended(api.store, "unit", tests=[case("test_x", F)], pipeline="check", days_ago=0)

    data = _get(api, "/api/trends", days=7)
    assert data["days"] == 7 and data["breaking_pipelines"] == ["gate"]
    assert data["totals"] == {
        "runs": 14, "passed": 8, "failed": 4, "infra": 2, "failure_rate": 4 / 14, "infra_rate": 2 / 14,
    }  # fmt: skip
    assert [day["day"] for day in data["series"]] == [_day(2), _day(1), _day(0)]
    assert data["series"][1] == {"day": _day(1), "runs": 6, "passed": 2, "failed": 3, "infra": 1}
    pipelines = {row["pipeline"]: row for row in data["pipelines"]}
    assert (pipelines["gate"]["failed"], pipelines["gate"]["infra"], pipelines["gate"]["runs"]) == (2, 1, 5)
    assert pipelines["check"]["infra_rate"] == pytest.approx(1 / 9)
    assert [row["job"] for row in data["jobs"]] == ["unit", "lint"]  # "rare" has too few runs
    assert data["jobs"][1] == {"job": "lint", "runs": 3, "failed": 0, "infra": 1, "failure_rate": 0.0,
                               "infra_rate": pytest.approx(1 / 3)}  # fmt: skip
    assert [row["project"] for row in data["projects"]] == ["org/web", "org/app"]
    assert [test["name"] for test in data["tests"]] == ["test_x"]
    assert data["authors"] == [
        {"author": "bob", "breaks": 2, "builds": 2, "projects": ["org/app", "org/web"]},
    ]
    api.server.breaking = ["gate", "check"]
    authors = _get(api, "/api/trends", days=7)["authors"]
    assert [(a["author"], a["breaks"], a["builds"]) for a in authors] == [("alice", 2, 10), ("bob", 2, 2)]
    for days in (0, 400, "x"):
        response = api.client.get("/api/trends", params={"days": days})
        assert response.status_code == 422 and response.json()["error"]
