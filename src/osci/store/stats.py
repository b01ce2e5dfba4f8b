"""Read queries behind the dashboard's statistics: jobs, projects, tests, trends.

Counts over windows of days read the daily roll-ups (``build_daily``, ``test_daily``, see
``osci.store.rollups``), never a GROUP BY over builds or test results. A window of `days`
is the last `days` UTC calendar days, today included.

Functions take a :class:`Store` and return plain data: counts dicts ``{runs, passed, failed,
infra, duration_sum}`` (see :func:`tally`); rates are computed by the web layer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, func, select

from osci.store.builds import MAX_PAGE, contains
from osci.store.models import Build, BuildDaily, TestDaily, TestResult
from osci.store.rollups import CODE_STATUS, FAILED, INFRA, PASSED
from osci.store.rollups import rebuild_rollups as rebuild_rollups  # re-exported: benchmarks call it here
from osci.store.store import Store
from osci.store.types import MAX_NAME, clip
from osci.store.validate import count, moment

MAX_DAYS = 365
BREAKERS_INDEX = "ix_builds_pipeline_end_time_result_author"
FAILING_INDEX = "ix_test_daily_day_failures"
CLASS_OF = {
    **dict.fromkeys(PASSED, "passed"),
    **dict.fromkeys(FAILED, "failed"),
    **dict.fromkeys(INFRA, "infra"),
}


def first_day(days: int, now: datetime | None = None) -> str:
    """The first day ('YYYY-MM-DD') of a window of `days` days ending today (UTC)."""
    count("days", days, 1, MAX_DAYS)
    today = moment("now", now).date()
    return (today - timedelta(days=days - 1)).isoformat()


def empty_counts() -> dict[str, Any]:
    return {"runs": 0, "passed": 0, "failed": 0, "infra": 0, "duration_sum": 0.0}


def add(counts: dict[str, Any], result: str, number: int, duration_sum: float) -> None:
    """Add `number` builds of `result` to `counts` (a result outside the rates is ignored)."""
    kind = CLASS_OF.get(result)
    if kind is None:
        return
    counts[kind] += int(number)
    counts["runs"] += int(number)
    counts["duration_sum"] += float(duration_sum or 0.0)


def tally(rows: Iterable[Any], *group: str) -> dict[Any, dict[str, Any]]:
    """Fold rows of (group columns..., result, n, duration) into counts per group value."""
    out: dict[Any, dict[str, Any]] = {}
    for row in rows:
        key = tuple(getattr(row, name) for name in group)
        key = key[0] if len(key) == 1 else key
        add(out.setdefault(key, empty_counts()), row.result, row.n, row.duration)
    return out


def _daily(*columns: Any) -> Select[Any]:
    return select(
        *columns,
        BuildDaily.result,
        func.sum(BuildDaily.count).label("n"),
        func.sum(BuildDaily.duration_sum).label("duration"),
    ).group_by(*columns, BuildDaily.result)


def build_counts(
    store: Store,
    days: int,
    by: tuple[str, ...] = (),
    *,
    job: str | None = None,
    project: str | None = None,
    pipelines: list[str] | None = None,
    now: datetime | None = None,
) -> dict[Any, dict[str, Any]]:
    """Completed builds of the window, counted per value of the roll-up columns `by`
    (e.g. ("job",), ("day",)); with no `by`, one entry under the key ``()``."""
    start = first_day(days, now)
    columns = [getattr(BuildDaily, name) for name in by]
    query = _daily(*columns).where(BuildDaily.day >= start)
    if job is not None:
        query = query.where(BuildDaily.job == job)
    if project is not None:
        query = query.where(BuildDaily.project == project)
    if pipelines is not None:
        query = query.where(BuildDaily.pipeline.in_(pipelines))
    with store.read_session() as session:
        rows = list(session.execute(query))
    if not by:
        total = empty_counts()
        for row in rows:
            add(total, row.result, row.n, row.duration)
        return {(): total}
    return tally(rows, *by)


def last_builds(store: Store, column: str, names: Iterable[str], **where: str) -> dict[str, Build]:
    """The latest completed build per value of `column` ("job" or "project"), through the
    (column, end_time) index: one short lookup per name."""
    field = getattr(Build, column)
    found: dict[str, Build] = {}
    with store.read_session() as session:
        for name in names:
            query = select(Build).where(
                field == name, Build.end_time.is_not(None), Build.state == "completed"
            )
            for other, value in where.items():
                query = query.where(getattr(Build, other) == value)
            build = session.scalar(query.order_by(Build.end_time.desc(), Build.id.desc()).limit(1))
            if build is not None:
                found[name] = build
    return found


def recent_builds(store: Store, *, limit: int = 25, **where: str) -> list[Build]:
    """The latest builds (by creation) matching `where` (column=value)."""
    count("limit", limit, 1, MAX_PAGE)
    query = select(Build)
    for column, value in where.items():
        query = query.where(getattr(Build, column) == value)
    with store.read_session() as session:
        return list(session.scalars(query.order_by(Build.id.desc()).limit(limit)))


def has_builds(store: Store, **where: str) -> bool:
    query = select(Build.id)
    for column, value in where.items():
        query = query.where(getattr(Build, column) == value)
    with store.read_session() as session:
        return session.scalar(query.limit(1)) is not None


def project_buildsets(store: Store, project: str, limit: int = 10) -> list[Any]:
    """The project's latest buildsets, as :class:`osci.store.api_queries.BuildsetView`."""
    from osci.store.api_queries import list_buildsets

    return list_buildsets(store, limit=limit, project=project)


# -- tests ---------------------------------------------------------------------------------------


@dataclass
class TestStats:
    """One test over a window, from the roll-up."""

    __test__ = False
    name: str
    classname: str
    runs: int
    failures: int
    flaky: bool
    last_status: str | None = None
    last_time: datetime | None = None
    job: str | None = None
    project: str | None = None
    jobs: list[str] | None = None


def _test_filters(query: Select[Any], start: str, job: str | None, project: str | None) -> Select[Any]:
    query = query.where(TestDaily.day >= start)
    if job is not None:
        query = query.where(TestDaily.job == job)
    if project is not None:
        query = query.where(TestDaily.project == project)
    return query


def list_tests(
    store: Store,
    days: int,
    *,
    q: str | None = None,
    job: str | None = None,
    project: str | None = None,
    limit: int = 50,
    skip: int = 0,
    now: datetime | None = None,
) -> list[TestStats]:
    """Tests seen in the window, one entry per (name, classname, job, project), in name order
    (then by roll-up key: stable, not meaningful); `q` is a case-insensitive substring of the
    name. The (name, key, day) index gives the groups in order, so a page stops early."""
    count("limit", limit, 1, MAX_PAGE)
    count("skip", skip, 0, 2**31)
    query = select(
        TestDaily.name,
        TestDaily.key,
        func.min(TestDaily.classname).label("classname"),
        func.min(TestDaily.job).label("job"),
        func.min(TestDaily.project).label("project"),
        func.sum(TestDaily.runs).label("runs"),
        func.sum(TestDaily.failures).label("failures"),
        func.max(TestDaily.flaky).label("flaky"),
        func.max(TestDaily.last_rank).label("rank"),
        func.max(TestDaily.last_time).label("last_time"),
    ).group_by(TestDaily.name, TestDaily.key)
    query = _test_filters(query, first_day(days, now), job, project)
    if q:
        query = query.where(contains(TestDaily.name, q, store.dialect))
    query = query.order_by(TestDaily.name, TestDaily.key)
    with store.read_session() as session:
        rows = session.execute(query.limit(limit).offset(skip))
        return [
            TestStats(
                name=row.name,
                classname=row.classname,
                runs=int(row.runs),
                failures=int(row.failures),
                flaky=bool(row.flaky),
                last_status=CODE_STATUS.get(int(row.rank) % 8),
                last_time=row.last_time,
                job=row.job,
                project=row.project,
            )
            for row in rows
        ]


def fragile_tests(
    store: Store,
    days: int,
    *,
    limit: int = 20,
    job: str | None = None,
    project: str | None = None,
    now: datetime | None = None,
) -> list[TestStats]:
    """Tests that failed in the window, most failures first, with their runs, the jobs they
    failed in and whether they were flaky (both outcomes on one revision).

    Two steps: the (day, failures) index finds the failing roll-up rows of the window (a small
    part of them), then the (name, key, day) index gives the chosen tests' runs."""
    count("limit", limit, 1, MAX_PAGE)
    start = first_day(days, now)
    failures = func.sum(TestDaily.failures).label("failures")
    query = (
        select(TestDaily.name, TestDaily.classname, failures)
        .where(TestDaily.failures > 0)
        .with_hint(TestDaily, f"INDEXED BY {FAILING_INDEX}", "sqlite")  # else SQLite may read them all
    )
    query = _test_filters(query.group_by(TestDaily.name, TestDaily.classname), start, job, project)
    query = query.order_by(failures.desc(), TestDaily.name, TestDaily.classname).limit(limit)
    with store.read_session() as session:
        tests = {
            (row.name, row.classname): TestStats(
                row.name, row.classname, 0, int(row.failures), False, jobs=[]
            )
            for row in session.execute(query)
        }
        if not tests:
            return []
        details = _test_filters(
            select(
                TestDaily.name,
                TestDaily.classname,
                TestDaily.job,
                TestDaily.runs,
                TestDaily.failures,
                TestDaily.flaky,
            ).where(TestDaily.name.in_({name for name, _ in tests})),
            start,
            job,
            project,
        )
        for row in session.execute(details):
            test = tests.get((row.name, row.classname))
            if test is None:
                continue  # another test of the same name
            test.runs += row.runs
            test.flaky = test.flaky or bool(row.flaky)
            if row.failures and row.job not in test.jobs:
                test.jobs.append(row.job)
    for test in tests.values():
        test.jobs.sort()
    return list(tests.values())


@dataclass
class TestRun:
    """One result of a test, with its build."""

    __test__ = False
    result: TestResult
    build_uuid: str
    change: str | None


def test_runs(
    store: Store, name: str, *, classname: str | None = None, job: str | None = None, limit: int = 100
) -> list[TestRun]:
    """The latest results of a test, newest first, through the (name, build_id) index."""
    count("limit", limit, 1, MAX_PAGE)
    query = (
        select(TestResult, Build.uuid, Build.change)
        .join(Build, Build.id == TestResult.build_id)
        .where(TestResult.name == clip(name, MAX_NAME))
    )
    if classname is not None:
        query = query.where(TestResult.classname == classname)
    if job is not None:
        query = query.where(TestResult.job == job)
    query = query.order_by(TestResult.build_id.desc(), TestResult.id.desc()).limit(limit)
    with store.read_session() as session:
        return [TestRun(row, uuid, change) for row, uuid, change in session.execute(query)]


test_runs.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


# -- who breaks builds ---------------------------------------------------------------------------


@dataclass
class Breaker:
    author: str
    breaks: int
    builds: int
    projects: list[str]


def breakers(
    store: Store, days: int, pipelines: list[str], *, limit: int = 15, now: datetime | None = None
) -> list[Breaker]:
    """Per change author, builds of `pipelines` in the window and how many of them failed
    (failed, not infra); most breaks first, authors without breaks left out.

    The counts come from the (pipeline, end_time, result, author) index alone; only the failed
    builds' rows are read, for their projects."""
    count("limit", limit, 1, MAX_PAGE)
    if not pipelines:
        return []
    start = datetime.combine(date.fromisoformat(first_day(days, now)), time(), UTC)
    window = (Build.pipeline.in_(pipelines), Build.end_time >= start, Build.author.is_not(None))
    counted = (
        select(Build.author, Build.result, func.count().label("n"))
        .where(*window, Build.result.in_(PASSED + FAILED + INFRA))
        .group_by(Build.author, Build.result)
    )
    failed = (
        select(Build.author, Build.project)
        .where(*window, Build.result.in_(FAILED))
        .with_hint(Build, f"INDEXED BY {BREAKERS_INDEX}", "sqlite")  # result checked before rows are read
        .distinct()
    )
    per_author: dict[str, Breaker] = {}
    with store.read_session() as session:
        for row in session.execute(counted):
            entry = per_author.setdefault(row.author, Breaker(row.author, 0, 0, []))
            entry.builds += int(row.n)
            if row.result in FAILED:
                entry.breaks += int(row.n)
        for row in session.execute(failed):
            per_author[row.author].projects.append(row.project)
    found = [entry for entry in per_author.values() if entry.breaks]
    for entry in found:
        entry.projects.sort()
    found.sort(key=lambda entry: (-entry.breaks, -entry.builds, entry.author))
    return found[:limit]


def flips(runs: list[TestRun]) -> tuple[int, int]:
    """(flips, comparable pairs): adjacent results of one job, in time order, whose outcome
    (passed vs failed/error) differs; skipped results are left out. `runs` come newest first."""
    by_job: dict[str, list[bool]] = {}
    for run in reversed(runs):
        if run.result.status != "skipped":
            by_job.setdefault(run.result.job, []).append(run.result.status == "passed")
    changed = pairs = 0
    for outcomes in by_job.values():
        for before, after in zip(outcomes, outcomes[1:], strict=False):
            pairs += 1
            changed += before != after
    return changed, pairs


def flaky_revisions(runs: list[TestRun]) -> list[str]:
    """Revisions on which the test both passed and failed (or errored), newest first."""
    seen: dict[str, set[bool]] = {}
    for run in runs:
        if run.result.newrev and run.result.status != "skipped":
            seen.setdefault(run.result.newrev, set()).add(run.result.status == "passed")
    return [rev for rev, outcomes in seen.items() if len(outcomes) == 2]
