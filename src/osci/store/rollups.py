"""Daily roll-ups of builds and test results, so that the dashboard's statistics read a few
thousand rows instead of grouping millions.

They are kept up to date in the transaction that finishes a build (:func:`record_build`), and
can be recomputed from ``builds`` and ``test_results`` in bulk (:func:`rebuild_rollups`, also
the backfill of migration 0002). Both ways give the same rows.

Flakiness (a test that both passed and failed, or errored, on one revision) is found when a
build finishes by looking at the latest :data:`FLAKY_LOOKBACK` other builds of its revision;
the bulk rebuild looks at all of them, which differs only for revisions built more often.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, case, delete, func, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from osci.model import Result
from osci.store.models import Build, BuildDaily, TestDaily, TestResult

PASSED = (str(Result.SUCCESS),)
FAILED = tuple(str(r) for r in Result if r.counts_against_change)
INFRA = tuple(str(r) for r in Result if r.is_infrastructure)
COUNTED = PASSED + FAILED + INFRA  # results that enter rates; ABORTED and SKIPPED do not
STATUS_CODE = {"passed": 0, "skipped": 1, "error": 2, "failed": 3}  # a build's worst status wins
CODE_STATUS = {code: status for status, code in STATUS_CODE.items()}
FLAKY_LOOKBACK = 200
BATCH = 5000


def day_of(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d")


def _hash(*parts: str) -> str:
    return hashlib.sha1("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


def build_key(project: str, pipeline: str, job: str, result: str) -> str:
    return _hash(project, pipeline, job, result)


def test_key(project: str, job: str, classname: str, name: str) -> str:
    return _hash(project, job, classname, name)


test_key.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


def _outcome(status: str) -> int | None:
    """0 passed, 1 failed (failed or error), None for skipped."""
    if status == "passed":
        return 0
    if status in ("failed", "error"):
        return 1
    return None


def _insert(dialect: str) -> Any:
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def _later(table: Any, excluded: Any, column: str) -> ColumnElement[Any]:
    """The excluded (new) value of `column` when the new row is the later one."""
    return case(
        (excluded.last_rank > table.c.last_rank, getattr(excluded, column)),
        else_=getattr(table.c, column),
    )


def _upsert_builds(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    session.execute(_builds_upsert(session.get_bind().dialect.name), list(rows))


@functools.cache
def _builds_upsert(dialect: str) -> Any:
    """Built once per dialect: every finishing build runs it."""
    table = BuildDaily.__table__
    stmt = _insert(dialect)(table)
    return stmt.on_conflict_do_update(
        index_elements=["day", "key"],
        set_={
            "count": table.c.count + stmt.excluded.count,
            "duration_sum": table.c.duration_sum + stmt.excluded.duration_sum,
        },
    )


def _upsert_tests(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    session.execute(_tests_upsert(session.get_bind().dialect.name), list(rows))


@functools.cache
def _tests_upsert(dialect: str) -> Any:
    table = TestDaily.__table__
    stmt = _insert(dialect)(table)
    new = stmt.excluded
    return stmt.on_conflict_do_update(
        index_elements=["day", "key"],
        set_={
            "runs": table.c.runs + new.runs,
            "failures": table.c.failures + new.failures,
            "skips": table.c.skips + new.skips,
            "duration_sum": table.c.duration_sum + new.duration_sum,
            "flaky": case((new.flaky > table.c.flaky, new.flaky), else_=table.c.flaky),
            "last_status": _later(table, new, "last_status"),
            "last_time": case((new.last_time > table.c.last_time, new.last_time), else_=table.c.last_time),
            "last_rank": case((new.last_rank > table.c.last_rank, new.last_rank), else_=table.c.last_rank),
        },
    )


# -- kept up to date as builds finish -----------------------------------------------------------


def record_build(session: Session, build: Build, tests: Sequence[dict[str, Any]]) -> None:
    """Inside finish_build's transaction: add the build and its test results (the rows just
    inserted into test_results) to the roll-ups."""
    if build.end_time is None:
        return
    day = day_of(build.end_time)
    if build.result in COUNTED:
        pipeline = build.pipeline or ""
        _upsert_builds(
            session,
            [
                {
                    "day": day,
                    "key": build_key(build.project, pipeline, build.job, build.result),
                    "project": build.project,
                    "pipeline": pipeline,
                    "job": build.job,
                    "result": build.result,
                    "count": 1,
                    "duration_sum": float(build.duration or 0.0),
                }
            ],
        )
    if not tests:
        return
    flaky, partners = _flaky_partners(session, build, tests)
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for case_ in tests:
        key = test_key(build.project, build.job, case_["classname"], case_["name"])
        row = rows.get((day, key))
        if row is None:
            row = rows[day, key] = _test_row(day, key, build.project, build.job, case_)
            row["last_rank"], row["last_time"] = build.id * 8 + STATUS_CODE[case_["status"]], build.end_time
        status = case_["status"]
        if status == "skipped":
            row["skips"] += 1
        else:
            row["runs"] += 1
            row["failures"] += status in ("failed", "error")
            row["duration_sum"] += case_["duration"]
        rank = build.id * 8 + STATUS_CODE[status]
        if rank > row["last_rank"]:
            row["last_rank"], row["last_status"] = rank, status
        if (case_["classname"], case_["name"]) in flaky:
            row["flaky"] = 1
    for (partner_day, key), partner in partners.items():
        if (partner_day, key) in rows:
            rows[partner_day, key]["flaky"] = 1
        else:  # adds nothing but the flag: zero counts, a rank that never wins
            rows[partner_day, key] = {**partner, "flaky": 1}
    # One statement, rows in key order: concurrent finishes on PostgreSQL lock rows in one order.
    ordered = [rows[key] for key in sorted(rows)]
    for chunk in _chunks(ordered, BATCH):
        _upsert_tests(session, chunk)


def _test_row(day: str, key: str, project: str, job: str, case_: Any) -> dict[str, Any]:
    """A roll-up row with nothing counted yet; `case_` gives name, classname and status."""
    return {
        "day": day,
        "key": key,
        "project": project,
        "job": job,
        "name": case_["name"],
        "classname": case_["classname"],
        "runs": 0,
        "failures": 0,
        "skips": 0,
        "duration_sum": 0.0,
        "flaky": 0,
        "last_status": case_["status"],
        "last_rank": -1,
        "last_time": None,
    }


def _flaky_partners(
    session: Session, build: Build, tests: Sequence[dict[str, Any]]
) -> tuple[set[tuple[str, str]], dict[tuple[str, str], dict[str, Any]]]:
    """The (classname, name) of this build's tests with both outcomes on its revision (in another
    build or in this one), and the other builds' roll-up rows to mark flaky, by (day, key)."""
    if not build.newrev:
        return set(), {}
    mine: dict[tuple[str, str], set[int]] = {}
    for case_ in tests:
        outcome = _outcome(case_["status"])
        if outcome is not None:
            mine.setdefault((case_["classname"], case_["name"]), set()).add(outcome)
    # Both outcomes inside this build alone also make the test flaky on this revision.
    found = {test for test, outcomes in mine.items() if len(outcomes) > 1}
    others = (
        select(Build.id)
        .where(Build.newrev == build.newrev, Build.id != build.id)
        .order_by(Build.id.desc())
        .limit(FLAKY_LOOKBACK)
    )
    other_ids = list(session.scalars(others)) if mine else []
    if not other_ids:
        return found, {}
    query = select(
        TestResult.classname,
        TestResult.name,
        TestResult.status,
        TestResult.project,
        TestResult.job,
        TestResult.end_time,
    ).where(TestResult.build_id.in_(other_ids), TestResult.status != "skipped")
    partners: dict[tuple[str, str], dict[str, Any]] = {}
    for row in session.execute(query):
        outcomes = mine.get((row.classname, row.name))
        outcome = _outcome(row.status)
        if outcomes is None or outcome is None or outcomes == {outcome} or row.end_time is None:
            continue
        found.add((row.classname, row.name))
        day = day_of(row.end_time)
        key = test_key(row.project, row.job, row.classname, row.name)
        partners[day, key] = _test_row(day, key, row.project, row.job, row._mapping)
    return found, partners


# -- recomputed in bulk -------------------------------------------------------------------------


def day_sql(column: Any, dialect: str) -> ColumnElement[str]:
    """The UTC day of a timestamp column as 'YYYY-MM-DD', in SQL."""
    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
    return func.substr(column, 1, 10)  # SQLite keeps UTC timestamps as 'YYYY-MM-DD HH:MM:SS...'


def _status_code_sql(status: Any) -> ColumnElement[int]:
    return case(*((status == name, literal(code)) for name, code in STATUS_CODE.items()), else_=literal(0))


def rebuild(connection: Connection) -> tuple[int, int]:
    """Recompute both roll-ups from builds and test_results, in the caller's transaction.
    Returns the number of (build_daily, test_daily) rows written."""
    dialect = connection.dialect.name
    connection.execute(delete(BuildDaily))
    connection.execute(delete(TestDaily))
    build_rows = _bulk_builds(connection, dialect)
    test_rows = _bulk_tests(connection, dialect)
    return build_rows, test_rows


def _bulk_builds(connection: Connection, dialect: str) -> int:
    day = day_sql(Build.end_time, dialect).label("day")
    pipeline = func.coalesce(Build.pipeline, "").label("pipeline")
    query = (
        select(
            day,
            Build.project,
            pipeline,
            Build.job,
            Build.result,
            func.count().label("count"),
            func.coalesce(func.sum(Build.duration), 0.0).label("duration_sum"),
        )
        .where(Build.state == "completed", Build.result.in_(COUNTED), Build.end_time.is_not(None))
        .group_by(day, Build.project, pipeline, Build.job, Build.result)
    )
    rows = [
        {
            "day": row.day,
            "key": build_key(row.project, row.pipeline, row.job, row.result),
            "project": row.project,
            "pipeline": row.pipeline,
            "job": row.job,
            "result": row.result,
            "count": row.count,
            "duration_sum": float(row.duration_sum),
        }
        for row in connection.execute(query)
    ]
    for chunk in _chunks(rows, BATCH):
        connection.execute(BuildDaily.__table__.insert(), chunk)
    return len(rows)


def _bulk_tests(connection: Connection, dialect: str) -> int:
    t = TestResult.__table__.c
    day = day_sql(t.end_time, dialect).label("day")
    not_skipped = t.status != "skipped"
    query = (
        select(
            day,
            t.project,
            t.job,
            t.name,
            t.classname,
            func.sum(case((not_skipped, 1), else_=0)).label("runs"),
            func.sum(case((t.status.in_(("failed", "error")), 1), else_=0)).label("failures"),
            func.sum(case((not_skipped, 0), else_=1)).label("skips"),
            func.sum(case((not_skipped, t.duration), else_=0.0)).label("duration_sum"),
            func.max(t.build_id * 8 + _status_code_sql(t.status)).label("last_rank"),
            func.max(t.end_time).label("last_time"),
        )
        .where(t.end_time.is_not(None))
        .group_by(day, t.project, t.job, t.name, t.classname)
    )
    last_time = TestResult.__table__.c.end_time.type  # UTCDateTime: makes SQLite's text aware
    flaky = _bulk_flaky(connection, dialect)
    written = 0
    batch: list[dict[str, Any]] = []
    for row in connection.execute(query):
        key = test_key(row.project, row.job, row.classname, row.name)
        when = row.last_time
        if isinstance(when, str):  # max() over SQLite text loses the column type
            when = last_time.process_result_value(datetime.fromisoformat(when), connection.dialect)
        batch.append(
            {
                "day": row.day,
                "key": key,
                "project": row.project,
                "job": row.job,
                "name": row.name,
                "classname": row.classname,
                "runs": int(row.runs),
                "failures": int(row.failures),
                "skips": int(row.skips),
                "duration_sum": float(row.duration_sum or 0.0),
                "flaky": 1 if (row.day, key) in flaky else 0,
                "last_status": CODE_STATUS[int(row.last_rank) % 8],
                "last_rank": int(row.last_rank),
                "last_time": when,
            }
        )
        if len(batch) >= BATCH:
            connection.execute(TestDaily.__table__.insert(), batch)
            written += len(batch)
            batch = []
    if batch:
        connection.execute(TestDaily.__table__.insert(), batch)
        written += len(batch)
    return written


def _bulk_flaky(connection: Connection, dialect: str) -> set[tuple[str, str]]:
    """(day, key) of every roll-up row holding a result whose revision also saw the opposite."""
    t = TestResult.__table__.c
    failed = case((t.status == "passed", 0), else_=1)
    revisions = (
        select(t.name, t.classname, t.newrev)
        .where(t.newrev.is_not(None), t.status != "skipped")
        .group_by(t.name, t.classname, t.newrev)
        .having(func.min(failed) != func.max(failed))
        .subquery()
    )
    day = day_sql(t.end_time, dialect).label("day")
    query = (
        select(day, t.project, t.job, t.classname, t.name)
        .join(
            revisions,
            (t.name == revisions.c.name)
            & (t.classname == revisions.c.classname)
            & (t.newrev == revisions.c.newrev),
        )
        .where(t.status != "skipped", t.end_time.is_not(None))
        .distinct()
    )
    return {
        (row.day, test_key(row.project, row.job, row.classname, row.name))
        for row in connection.execute(query)
    }


def rebuild_rollups(store: Any) -> tuple[int, int]:
    """Recompute the roll-ups of `store` (a :class:`osci.store.Store`) in one transaction."""
    with store.write_session() as session:
        return rebuild(session.connection())


def _chunks(rows: list[dict[str, Any]], size: int) -> Iterable[list[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]
