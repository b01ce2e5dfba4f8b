"""Store rows as the API's JSON documents."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from osci.store.api_queries import BuildsetView
from osci.store.models import Artifact, AttemptRow, Build, Event, MetricRow, TestResult

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


def tests_summary(build: Build) -> dict[str, int]:
    counts = {
        "passed": build.tests_passed,
        "failed": build.tests_failed,
        "error": build.tests_error,
        "skipped": build.tests_skipped,
    }
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


def event(row: Event) -> dict[str, Any]:
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
    }
