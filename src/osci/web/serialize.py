"""Store rows as the API's JSON documents."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from osci.store.api_queries import BuildsetView, EventItem
from osci.store.models import Artifact, AttemptRow, Build, ConfigLoad, Event, MetricRow, TestResult
from osci.store.stats import Breaker, TestRun, TestStats

STATUS_ORDER = {"failed": 0, "error": 1, "skipped": 2, "passed": 3}


def when(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def log_url(build: Build) -> str:
    return build.log_url or f"/logs/{quote(build.uuid, safe='')}/"


def build_summary(build: Build, buildset_uuid: str | None) -> dict[str, Any]:
    return {
        "uuid": build.uuid,
        "job": build.job,
        "project": build.project,
        "branch": build.branch,
        "ref": build.ref,
        "change": build.change,
        "patchset": build.patchset,
        "pipeline": build.pipeline,
        "state": build.state,
        "result": build.result,
        "voting": build.voting,
        "start_time": when(build.start_time),
        "end_time": when(build.end_time),
        "duration": build.duration,
        "log_url": log_url(build),
        "buildset": buildset_uuid,
        "author": build.author,
        "newrev": build.newrev,
        "tests": tally(build),
    }


def attempt(row: AttemptRow) -> dict[str, Any]:
    duration = (row.end_time - row.start_time).total_seconds() if row.start_time and row.end_time else None
    return {
        "number": row.number,
        "state": row.state,
        "interrupted": row.state == "interrupted",
        "result": row.result,
        "reason": row.reason,
        "node": row.node,
        "start_time": when(row.start_time),
        "end_time": when(row.end_time),
        "duration": duration,
        "phases": row.phases,
    }


def artifact(uuid: str, row: Artifact) -> dict[str, Any]:
    return {
        "path": row.path,
        "size": row.size,
        "url": f"/logs/{quote(uuid, safe='')}/artifacts/{quote(row.path)}",
    }


def metric(row: MetricRow) -> dict[str, Any]:
    return {"name": row.name, "value": row.value, "unit": row.unit}


def test_case(row: TestResult) -> dict[str, Any]:
    return {
        "name": row.name,
        "classname": row.classname,
        "status": row.status,
        "duration": row.duration,
        "message": row.message,
        "output": row.output,
        "source": row.source,
    }


def tally(build: Build) -> dict[str, int]:
    """The build row's test counters."""
    return {
        "passed": build.tests_passed,
        "failed": build.tests_failed,
        "error": build.tests_error,
        "skipped": build.tests_skipped,
    }


def tests_summary(build: Build) -> dict[str, int]:
    counts = tally(build)
    return {**counts, "total": sum(counts.values())}


def build_detail(
    build: Build,
    buildset_uuid: str | None,
    attempts: list[AttemptRow],
    artifacts: list[Artifact],
    metrics: list[MetricRow],
) -> dict[str, Any]:
    return {
        **build_summary(build, buildset_uuid),
        "newrev": build.newrev,
        "node": build.node,
        "reason": build.reason,
        "created": when(build.created),
        "estimated_duration": build.estimated_duration,
        "attempts": [attempt(row) for row in attempts],
        "tests": tests_summary(build),
        "artifacts": [artifact(build.uuid, row) for row in artifacts],
        "metrics": [metric(row) for row in metrics],
        "extra": build.extra,
    }


def buildset(view: BuildsetView) -> dict[str, Any]:
    row, item = view.buildset, view.item
    return {
        "uuid": row.uuid,
        "result": row.result,
        "message": row.message,
        "created": when(row.created),
        "completed": when(row.completed),
        "item": None
        if item is None
        else {
            "uuid": item.uuid,
            "pipeline": item.pipeline,
            "project": item.project,
            "branch": item.branch,
            "ref": item.ref,
            "change": item.change,
            "patchset": item.patchset,
            "state": item.state,
            "result": item.result,
            "enqueue_time": when(item.enqueue_time),
            "dequeue_time": when(item.dequeue_time),
        },
    }


def event(row: Event, items: list[EventItem]) -> dict[str, Any]:
    return {
        "uuid": row.uuid,
        "connection": row.connection,
        "type": row.type,
        "project": row.project,
        "branch": row.branch,
        "ref": row.ref,
        "change": row.change,
        "patchset": row.patchset,
        "newrev": row.newrev,
        "author": row.author,
        "received_at": when(row.received_at),
        "processed_at": when(row.processed_at),
        "outcome": row.outcome,
        "items": [event_item(entry) for entry in items],
    }


def event_item(entry: EventItem) -> dict[str, Any]:
    return {
        "uuid": entry.item.uuid,
        "pipeline": entry.item.pipeline,
        "state": entry.item.state,
        "result": entry.item.result,
        "buildset": entry.buildset_uuid,
    }


def buildset_entry(view: BuildsetView, counts: dict[str, int]) -> dict[str, Any]:
    return {**buildset(view), "builds": counts}


def graph(job_graph: dict[str, Any] | None) -> dict[str, Any]:
    """Names, dependencies and voting of a stored job graph; never anything else of the frozen
    jobs (their vars may hold what the page must not show)."""
    jobs = job_graph.get("jobs") if isinstance(job_graph, dict) else None
    dependencies = job_graph.get("dependencies") if isinstance(job_graph, dict) else None
    dependencies = dependencies if isinstance(dependencies, dict) else {}
    out = []
    for job in jobs if isinstance(jobs, list) else []:
        if not isinstance(job, dict) or not isinstance(job.get("name"), str):
            continue
        needs = dependencies.get(job["name"], job.get("dependencies"))
        out.append(
            {
                "name": job["name"],
                "dependencies": [str(name) for name in needs] if isinstance(needs, list) else [],
                "voting": job.get("voting") is not False,
            }
        )
    return {"jobs": out}


def config_load(row: ConfigLoad) -> dict[str, Any]:
    return {"loaded_at": when(row.loaded_at), "ok": row.ok, "source": row.source, "errors": row.errors}


# -- history and statistics ------------------------------------------------------------------------


def rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def counts(tally: dict[str, Any]) -> dict[str, Any]:
    """``{runs, passed, failed, infra}`` of a stats tally (see osci.store.stats)."""
    return {name: tally[name] for name in ("runs", "passed", "failed", "infra")}


def avg_duration(tally: dict[str, Any]) -> float | None:
    return tally["duration_sum"] / tally["runs"] if tally["runs"] else None


def totals(tally: dict[str, Any]) -> dict[str, Any]:
    runs = tally["runs"]
    return {
        **counts(tally),
        "pass_rate": rate(tally["passed"], runs),
        "failure_rate": rate(tally["failed"], runs),
        "infra_rate": rate(tally["infra"], runs),
        "avg_duration": avg_duration(tally),
    }


def day_entry(day: str, tally: dict[str, Any]) -> dict[str, Any]:
    return {
        "day": day,
        **counts(tally),
        "pass_rate": rate(tally["passed"], tally["runs"]),
        "avg_duration": avg_duration(tally),
    }


def failure_rates(tally: dict[str, Any]) -> dict[str, Any]:
    """``{runs, failed, infra, failure_rate, infra_rate}``, for trends."""
    runs = tally["runs"]
    return {
        "runs": runs,
        "failed": tally["failed"],
        "infra": tally["infra"],
        "failure_rate": rate(tally["failed"], runs),
        "infra_rate": rate(tally["infra"], runs),
    }


def test_row(test: TestStats) -> dict[str, Any]:
    return {
        "name": test.name,
        "classname": test.classname,
        "job": test.job,
        "project": test.project,
        "runs": test.runs,
        "failures": test.failures,
        "failure_rate": rate(test.failures, test.runs),
        "last_status": test.last_status,
        "last_time": when(test.last_time),
    }


def fragile_test(test: TestStats) -> dict[str, Any]:
    return {
        "name": test.name,
        "classname": test.classname,
        "runs": test.runs,
        "failures": test.failures,
        "failure_rate": rate(test.failures, test.runs),
        "flaky": test.flaky,
        "jobs": test.jobs or [],
    }


def history_entry(run: TestRun, flaky: bool) -> dict[str, Any]:
    row = run.result
    return {
        "build": run.build_uuid,
        "job": row.job,
        "project": row.project,
        "pipeline": row.pipeline,
        "branch": row.branch,
        "change": run.change,
        "newrev": row.newrev,
        "status": row.status,
        "duration": row.duration,
        "end_time": when(row.end_time),
        "message": row.message,
        "flaky": flaky,
    }


def breaker(entry: Breaker) -> dict[str, Any]:
    return {
        "author": entry.author,
        "breaks": entry.breaks,
        "builds": entry.builds,
        "projects": entry.projects,
    }
