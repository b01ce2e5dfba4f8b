"""History and statistics for the dashboard: jobs, projects, tests, trends and configuration.

Counts over windows of days come from the daily roll-ups (osci.store.stats); what the running
configuration says (definitions, why a job runs, breaking pipelines) comes from the server."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from osci.store import Store, stats
from osci.store.api_queries import config_loads, list_buildsets
from osci.web import serialize
from osci.web.errors import ApiError
from osci.web.params import Days, Filter, Limit, Search, Skip, text
from osci.web.ports import ServerPort
from osci.web.routes_builds import buildset_entries, summaries
from osci.web.schemas import (
    ConfigOut,
    ErrorOut,
    FragileTest,
    JobDetail,
    JobRow,
    ProjectDetail,
    ProjectRow,
    TestHistory,
    TestRow,
    Trends,
)

router = APIRouter(
    prefix="/api",
    tags=["history"],
    responses={code: {"model": ErrorOut} for code in (400, 404, 422)},
)
MAX_NAME = 255  # job and project names are at most this long in the store
RECENT = 25
TestName = Annotated[str, Query(min_length=1, max_length=4096, description="the test's name")]
FragileLimit = Annotated[int, Query(ge=1, le=1000)]


def _store(request: Request) -> Store:
    return request.app.state.store


def _server(request: Request) -> ServerPort:
    return request.app.state.server


def _name(what: str, value: str) -> str:
    """A job or project name from a path: control characters are a 400, an impossible length a 404."""
    text(what, value)
    if not value or len(value) > MAX_NAME:
        raise ApiError(404, f"no {what} {value[:80]!r}")
    return value


def _series(store: Store, days: int, **where: str) -> list[dict[str, Any]]:
    per_day = stats.build_counts(store, days, ("day",), **where)
    return [serialize.day_entry(day, per_day[day]) for day in sorted(per_day)]


def _total(store: Store, days: int, **where: str) -> dict[str, Any]:
    return stats.build_counts(store, days, **where)[()]


@router.get("/jobs", summary="Every job's builds over the window, by name", response_model=list[JobRow])
def jobs(request: Request, days: Days = 30) -> list[dict[str, Any]]:
    store = _store(request)
    per_job = stats.build_counts(store, days, ("job",))
    names = sorted(set(per_job) | set(_server(request).config_summary().get("jobs", [])))
    last = stats.last_builds(store, "job", names)
    rows = []
    for name in names:
        tally = per_job.get(name) or stats.empty_counts()
        build = last.get(name)
        rows.append(
            {
                "job": name,
                **serialize.counts(tally),
                "pass_rate": serialize.rate(tally["passed"], tally["runs"]),
                "avg_duration": serialize.avg_duration(tally),
                "last_result": build.result if build else None,
                "last_end_time": serialize.when(build.end_time) if build else None,
            }
        )
    return rows


@router.get(
    "/job/{name:path}",
    summary="A job: its rates and durations per day, latest builds, definition and why it runs",
    response_model=JobDetail,
)
def job(request: Request, name: str, days: Days = 30) -> dict[str, Any]:
    name = _name("job", name)
    store = _store(request)
    config = _server(request).job_info(name)
    if config is None and not stats.has_builds(store, job=name):
        raise ApiError(404, f"no job {name[:80]!r}: neither configured nor built")
    return {
        "name": name,
        "days": days,
        "totals": serialize.totals(_total(store, days, job=name)),
        "series": _series(store, days, job=name),
        "recent": summaries(store, stats.recent_builds(store, limit=RECENT, job=name)),
        "config": config,
    }


@router.get(
    "/projects", summary="Every project's builds over the window, by name", response_model=list[ProjectRow]
)
def projects(request: Request, days: Days = 30) -> list[dict[str, Any]]:
    store = _store(request)
    per_project = stats.build_counts(store, days, ("project",))
    names = sorted(set(per_project) | set(_server(request).config_summary().get("projects", [])))
    last = stats.last_builds(store, "project", names)
    rows = []
    for name in names:
        tally = per_project.get(name) or stats.empty_counts()
        build = last.get(name)
        rows.append(
            {
                "project": name,
                **serialize.counts(tally),
                "failure_rate": serialize.rate(tally["failed"], tally["runs"]),
                "last_result": build.result if build else None,
            }
        )
    return rows


@router.get(
    "/project/{name:path}",
    summary="A project: rates per day, its jobs, latest builds and buildsets, settings",
    response_model=ProjectDetail,
)
def project(request: Request, name: str, days: Days = 30) -> dict[str, Any]:
    name = _name("project", name)
    store = _store(request)
    config = _server(request).project_info(name)
    if config is None and not stats.has_builds(store, project=name):
        raise ApiError(404, f"no project {name[:80]!r}: neither configured nor built")
    per_job = stats.build_counts(store, days, ("job",), project=name)
    configured = {job for names in (config or {}).get("pipelines", {}).values() for job in names}
    job_names = sorted(set(per_job) | configured)
    last = stats.last_builds(store, "job", job_names, project=name)
    job_rows = []
    for job_name in job_names:
        tally = per_job.get(job_name) or stats.empty_counts()
        job_rows.append(
            {
                "job": job_name,
                **serialize.counts(tally),
                "pass_rate": serialize.rate(tally["passed"], tally["runs"]),
                "last_result": last[job_name].result if job_name in last else None,
            }
        )
    return {
        "name": name,
        "days": days,
        "totals": serialize.totals(_total(store, days, project=name)),
        "series": _series(store, days, project=name),
        "jobs": job_rows,
        "recent": summaries(store, stats.recent_builds(store, limit=RECENT, project=name)),
        "buildsets": buildset_entries(store, list_buildsets(store, limit=10, project=name)),
        "config": config,
    }


@router.get(
    "/tests",
    summary="Tests seen in the window (one entry per job and project), by name",
    response_model=list[TestRow],
)
def tests(
    request: Request,
    q: Search = None,
    job: Filter = None,
    project: Filter = None,
    days: Days = 30,
    limit: Limit = 50,
    skip: Skip = 0,
) -> list[dict[str, Any]]:
    found = stats.list_tests(
        _store(request),
        days,
        q=text("q", q),
        job=text("job", job),
        project=text("project", project),
        limit=limit,
        skip=skip,
    )
    return [serialize.test_row(test) for test in found]


@router.get(
    "/tests/fragile",
    summary="Tests with the most failures in the window; flaky when one revision saw both outcomes",
    response_model=list[FragileTest],
)
def fragile(
    request: Request,
    days: Days = 30,
    limit: FragileLimit = 20,
    project: Filter = None,
    job: Filter = None,
) -> list[dict[str, Any]]:
    found = stats.fragile_tests(
        _store(request), days, limit=limit, job=text("job", job), project=text("project", project)
    )
    return [serialize.fragile_test(test) for test in found]


@router.get(
    "/test/history",
    summary="One test's latest results (newest first), failure and flip rates, flaky revisions",
    response_model=TestHistory,
)
def test_history(
    request: Request,
    name: TestName,
    classname: Annotated[str | None, Query(max_length=4096)] = None,
    job: Filter = None,
    limit: FragileLimit = 100,
) -> dict[str, Any]:
    runs = stats.test_runs(
        _store(request),
        text("name", name),
        classname=text("classname", classname),
        job=text("job", job),
        limit=limit,
    )
    if not runs:
        raise ApiError(404, f"no results for test {name[:80]!r}")
    counted = [run for run in runs if run.result.status != "skipped"]
    failures = sum(run.result.status in ("failed", "error") for run in counted)
    flipped, pairs = stats.flips(runs)
    flaky = stats.flaky_revisions(runs)
    flaky_set = set(flaky)
    return {
        "name": runs[0].result.name,
        "classname": classname if classname is not None else runs[0].result.classname,
        "runs": len(counted),
        "failures": failures,
        "failure_rate": serialize.rate(failures, len(counted)),
        "flips": flipped,
        "flip_rate": serialize.rate(flipped, pairs),
        "flaky_revisions": flaky,
        "history": [serialize.history_entry(run, run.result.newrev in flaky_set) for run in runs],
    }


def _rated(per: dict[str, dict[str, Any]], key: str) -> list[dict[str, Any]]:
    return [{key: name, **serialize.failure_rates(tally)} for name, tally in per.items()]


def _fragile_first(row: dict[str, Any]) -> tuple[float, int, str]:
    return (-(row["failure_rate"] or 0.0), -row["runs"], next(iter(row.values())))


@router.get(
    "/trends",
    summary="Failure and infrastructure rates per day, pipeline, job and project; fragile tests; "
    "who breaks builds",
    response_model=Trends,
)
def trends(request: Request, days: Days = 30) -> dict[str, Any]:
    store = _store(request)
    breaking = sorted(_server(request).breaking_pipelines())
    per_day = stats.build_counts(store, days, ("day",))
    total = stats.empty_counts()
    for tally in per_day.values():
        for field in ("runs", "passed", "failed", "infra", "duration_sum"):
            total[field] += tally[field]
    job_rows = [row for row in _rated(stats.build_counts(store, days, ("job",)), "job") if row["runs"] >= 3]
    project_rows = _rated(stats.build_counts(store, days, ("project",)), "project")
    pipelines = stats.build_counts(store, days, ("pipeline",))
    return {
        "days": days,
        "totals": {**serialize.counts(total), **serialize.failure_rates(total)},
        "series": [{"day": day, **serialize.counts(per_day[day])} for day in sorted(per_day)],
        "pipelines": sorted(_rated(pipelines, "pipeline"), key=lambda row: row["pipeline"]),
        "jobs": sorted(job_rows, key=_fragile_first)[:25],
        "projects": sorted(project_rows, key=_fragile_first)[:25],
        "tests": [serialize.fragile_test(test) for test in stats.fragile_tests(store, days, limit=10)],
        "authors": [serialize.breaker(entry) for entry in stats.breakers(store, days, breaking)],
        "breaking_pipelines": breaking,
    }


@router.get(
    "/config",
    summary="The running configuration's pipelines, projects and jobs; load errors and history",
    response_model=ConfigOut,
)
def config(request: Request) -> dict[str, Any]:
    server = _server(request)
    summary = server.config_summary()
    return {
        "errors": server.config_errors(),
        "loads": [serialize.config_load(row) for row in config_loads(_store(request), 20)],
        "pipelines": summary.get("pipelines", []),
        "projects": summary.get("projects", []),
        "jobs": summary.get("jobs", []),
    }
