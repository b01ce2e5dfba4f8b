"""The daily roll-ups: kept by finish_build, recomputed by rebuild_rollups, backfilled by
migration 0002; and the statistics read from them. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select

from osci.model import Attempt, BuildRecord, Result, TestCase, TestStatus
from osci.store import Store, stats
from osci.store.models import Build, BuildDaily, TestDaily, TestResult
from osci.store.rollups import rebuild_rollups

P, F, E, S = TestStatus.PASSED, TestStatus.FAILED, TestStatus.ERROR, TestStatus.SKIPPED
DAY1 = datetime(2026, 3, 1, 23, 59, 30, tzinfo=UTC)  # near midnight: the day is the UTC day
DAY2 = DAY1 + timedelta(minutes=1)


def _finish(
    store: Store,
    job: str,
    result: Result,
    end: datetime,
    tests: list[tuple[str, TestStatus]] = (),
    *,
    newrev: str | None = "rev1",
    project: str = "org/a",
    pipeline: str | None = "check",
    duration: float = 10.0,
) -> Build:
    build = store.create_build(job, project=project, pipeline=pipeline, newrev=newrev, author="ann")
    start = end.timestamp() - duration
    record = BuildRecord(
        uuid=build.uuid,
        job=job,
        result=result,
        start_time=start,
        end_time=end.timestamp(),
        attempts=[Attempt(1, result, start, end.timestamp())],
        tests=[TestCase(name, status, classname="pkg.T", duration=1.5) for name, status in tests],
    )
    return store.finish_build(build.uuid, record)


def _rows(store: Store, model: Any) -> list[dict[str, Any]]:
    columns = [c for c in model.__table__.columns if c.name != "id"]
    with store.read_session() as session:
        rows = session.execute(select(*columns).order_by(model.day, model.key)).all()
    return [dict(row._mapping) for row in rows]


def _fill(store: Store) -> None:
    _finish(store, "unit", Result.SUCCESS, DAY1, [("t_ok", P), ("t_flaky", P), ("t_skip", S)])
    _finish(store, "unit", Result.FAILURE, DAY2, [("t_ok", P), ("t_flaky", F), ("t_skip", S)])
    _finish(store, "unit", Result.FAILURE, DAY2, [("t_ok", E), ("t_flaky", F)], newrev="rev2")
    _finish(store, "unit", Result.ERROR, DAY2, newrev=None, pipeline=None)
    _finish(store, "unit", Result.ABORTED, DAY2)  # not counted in rates: not rolled up
    _finish(store, "lint", Result.TIMED_OUT, DAY2, [("t_dup", P), ("t_dup", F)], newrev="rev3")


def test_finish_build_keeps_the_build_roll_up(store: Store) -> None:
    _fill(store)
    rows = {(r["day"], r["job"], r["pipeline"], r["result"]): r for r in _rows(store, BuildDaily)}
    assert set(rows) == {
        ("2026-03-01", "unit", "check", "SUCCESS"),
        ("2026-03-02", "unit", "check", "FAILURE"),
        ("2026-03-02", "unit", "", "ERROR"),
        ("2026-03-02", "lint", "check", "TIMED_OUT"),
    }
    failures = rows["2026-03-02", "unit", "check", "FAILURE"]
    assert (failures["count"], failures["duration_sum"], failures["project"]) == (2, 20.0, "org/a")

    counts = stats.build_counts(store, 2, ("job",), now=DAY2)
    assert {job: (c["runs"], c["passed"], c["failed"], c["infra"]) for job, c in counts.items()} == {
        "unit": (4, 1, 2, 1),
        "lint": (1, 0, 1, 0),
    }
    assert stats.build_counts(store, 1, now=DAY2)[()]["runs"] == 4  # the window starts on DAY2
    assert stats.build_counts(store, 1, now=DAY2 + timedelta(days=1))[()]["runs"] == 0


def test_finish_build_keeps_the_test_roll_up_and_flaky_flags(store: Store) -> None:
    _fill(store)
    rows = {(r["day"], r["job"], r["name"]): r for r in _rows(store, TestDaily)}
    flaky_day1 = rows["2026-03-01", "unit", "t_flaky"]
    # passed on rev1 on day 1, failed on rev1 on day 2: both rows are flagged
    assert flaky_day1["flaky"] == 1 and (flaky_day1["runs"], flaky_day1["failures"]) == (1, 0)
    flaky_day2 = rows["2026-03-02", "unit", "t_flaky"]
    assert flaky_day2["flaky"] == 1 and (flaky_day2["runs"], flaky_day2["failures"]) == (2, 2)
    assert flaky_day2["last_status"] == "failed" and flaky_day2["duration_sum"] == 3.0
    ok_day2 = rows["2026-03-02", "unit", "t_ok"]
    assert (ok_day2["runs"], ok_day2["failures"], ok_day2["flaky"]) == (2, 1, 0)  # different revisions
    assert ok_day2["last_status"] == "error" and ok_day2["last_time"] == DAY2
    skip = rows["2026-03-02", "unit", "t_skip"]
    assert (skip["runs"], skip["skips"], skip["last_status"]) == (0, 1, "skipped")
    dup = rows["2026-03-02", "lint", "t_dup"]  # both outcomes in one build
    assert (dup["runs"], dup["failures"], dup["flaky"], dup["last_status"]) == (2, 1, 1, "failed")

    fragile = stats.fragile_tests(store, 7, now=DAY2)
    assert [(t.name, t.failures, t.runs, t.flaky, t.jobs) for t in fragile] == [
        ("t_flaky", 2, 3, True, ["unit"]),
        ("t_dup", 1, 2, True, ["lint"]),
        ("t_ok", 1, 3, False, ["unit"]),
    ]
    listed = stats.list_tests(store, 7, q="T_O", now=DAY2)
    assert [(t.name, t.runs, t.last_status) for t in listed] == [("t_ok", 3, "error")]


def test_rebuild_gives_the_same_rows(store: Store) -> None:
    _fill(store)
    kept = (_rows(store, BuildDaily), _rows(store, TestDaily))
    assert rebuild_rollups(store) == (len(kept[0]), len(kept[1]))
    assert (_rows(store, BuildDaily), _rows(store, TestDaily)) == kept
    # rebuilding from scratch after a wipe, too
    with store.write_session() as session:
        session.query(TestDaily).delete()
        session.query(BuildDaily).delete()
    rebuild_rollups(store)
    assert (_rows(store, BuildDaily), _rows(store, TestDaily)) == kept


def test_migration_0002_backfills_a_0001_database(db_url: str) -> None:
    from osci.store.migrate import upgrade

    with Store(db_url) as store:
        upgrade(store.engine, "0001")
        assert "build_daily" not in store.table_names()
        common = {"project": "org/a", "pipeline": "gate", "branch": "main", "newrev": "r1", "end_time": DAY1}
        with store.engine.begin() as connection:
            connection.execute(
                insert(Build),
                [
                    {"id": 1, "uuid": "b1", "job": "unit", "state": "completed", "result": "SUCCESS",
                     "duration": 5.0, "created": DAY1, "voting": True, "attempts_count": 1, "tests_passed": 1,
                     "tests_failed": 0, "tests_error": 0, "tests_skipped": 0, "extra": {}, **common},
                    {"id": 2, "uuid": "b2", "job": "unit", "state": "completed", "result": "RETRY_LIMIT",
                     "duration": 7.0, "created": DAY1, "voting": True, "attempts_count": 3, "tests_passed": 0,
                     "tests_failed": 1, "tests_error": 0, "tests_skipped": 0, "extra": {}, **common},
                    {"id": 3, "uuid": "b3", "job": "unit", "state": "running", "result": None, "duration": None, "created": DAY1, "voting": True,
                     "attempts_count": 0, "tests_passed": 0, "tests_failed": 0, "tests_error": 0,
                     "tests_skipped": 0, "extra": {}, **{**common, "end_time": None}},
                ],
            )  # fmt: skip
            connection.execute(
                insert(TestResult),
                [
                    {"build_id": 1, "name": "t", "classname": "c", "status": "passed", "duration": 1.0,
                     "job": "unit", **common},
                    {"build_id": 2, "name": "t", "classname": "c", "status": "failed", "duration": 2.0,
                     "job": "unit", **common},
                ],
            )  # fmt: skip
        store.migrate()
        builds = {row["result"]: row for row in _rows(store, BuildDaily)}
        assert set(builds) == {"SUCCESS", "RETRY_LIMIT"}
        assert (builds["RETRY_LIMIT"]["count"], builds["RETRY_LIMIT"]["day"]) == (1, "2026-03-01")
        (test,) = _rows(store, TestDaily)
        assert (test["runs"], test["failures"], test["flaky"], test["last_status"]) == (2, 1, 1, "failed")
        assert test["duration_sum"] == 3.0 and test["last_time"] == DAY1
        counts = stats.build_counts(store, 30, now=DAY1)[()]
        assert (counts["runs"], counts["passed"], counts["infra"]) == (2, 1, 1)


def test_breakers_count_failed_builds_per_author(store: Store) -> None:
    for result, author, project in (
        (Result.FAILURE, "ann", "org/a"),
        (Result.MERGE_CONFLICT, "ann", "org/b"),
        (Result.ERROR, "bob", "org/a"),  # infrastructure: not a break
        (Result.SUCCESS, "bob", "org/a"),
    ):
        build = store.create_build("unit", project=project, pipeline="gate", author=author)
        store.finish_build(build.uuid, BuildRecord(uuid=build.uuid, job="unit", result=result))
    found = stats.breakers(store, 1, ["gate"])
    assert [(b.author, b.breaks, b.builds, b.projects) for b in found] == [("ann", 2, 2, ["org/a", "org/b"])]
    assert stats.breakers(store, 1, ["check"]) == [] and stats.breakers(store, 1, []) == []
