"""Builds that end at chosen times before now, for the history and statistics endpoints
(whose windows of days end today)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from osci.model import Attempt, BuildRecord, Result, TestCase, TestStatus
from osci.store import Store
from osci.store.models import Build

NOW = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)


def ended(
    store: Store,
    job: str = "unit",
    result: Result = Result.SUCCESS,
    *,
    days_ago: float = 0,
    project: str = "org/app",
    pipeline: str = "check",
    author: str | None = "alice",
    newrev: str | None = "rev1",
    change: str | None = "42",
    tests: list[TestCase] | None = None,
    duration: float = 60.0,
    buildset_id: int | None = None,
) -> Build:
    """A completed build that ended `days_ago` days before today's noon (UTC)."""
    fields = (
        {}
        if buildset_id is not None
        else {
            "project": project,
            "pipeline": pipeline,
            "branch": "main",
            "author": author,
            "newrev": newrev,
            "change": change,
        }
    )
    build = store.create_build(job, buildset_id=buildset_id, **fields)
    end = (NOW - timedelta(days=days_ago)).timestamp()
    start = end - duration
    store.start_build(build.uuid, "local-1", now=datetime.fromtimestamp(start, UTC))
    record = BuildRecord(
        uuid=build.uuid,
        job=job,
        result=result,
        start_time=start,
        end_time=end,
        attempts=[Attempt(1, result, start, end, node="local-1")],
        tests=tests or [],
    )
    return store.finish_build(build.uuid, record)


def case(name: str, status: TestStatus, classname: str = "pkg.T", **extra: object) -> TestCase:
    return TestCase(name, status, classname=classname, duration=0.5, **extra)
