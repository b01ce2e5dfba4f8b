from datetime import UTC, datetime, timedelta

import pytest

from osci.model import Attempt, BuildRecord, Metric, Result, TestCase, TestStatus
from osci.model.build import PhaseRun
from osci.store import NotFound, Store, StoreError
from osci.store.types import MAX_OUTPUT

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
E0 = T0.timestamp()


def _buildset(store: Store, project: str = "org/a", change: str = "42"):
    item = store.create_item("check", project, branch="main", change=change, newrev="abc123")
    return store.create_buildset(item.id, {"jobs": [], "dependencies": {}})


def _record(uuid: str, result: Result = Result.SUCCESS, tests=(), **extra) -> BuildRecord:
    return BuildRecord(
        uuid=uuid,
        job="unit",
        result=result,
        start_time=E0,
        end_time=E0 + 90,
        attempts=[
            Attempt(1, result, E0, E0 + 90, node="local-1", phases=[PhaseRun("run", "run.sh", 0, 80.0)])
        ],
        tests=list(tests),
        **extra,
    )


def test_a_build_takes_its_fields_from_the_item(store: Store) -> None:
    buildset = _buildset(store)
    build = store.create_build("unit", buildset_id=buildset.id, voting=False, now=T0)
    assert (build.project, build.pipeline, build.branch, build.change, build.newrev) == (
        "org/a",
        "check",
        "main",
        "42",
        "abc123",
    )
    assert build.state == "waiting" and build.voting is False and build.result is None
    assert store.get_build(build.uuid).created == T0
    assert store.get_build("0" * 32) is None
    with pytest.raises(NotFound):
        store.create_build("unit", buildset_id=999)
    with pytest.raises(StoreError, match="job is required"):
        store.create_build("")


def test_start_and_finish_write_everything_in_one_go(store: Store, tmp_path) -> None:
    build = store.create_build("unit", project="org/a", pipeline="check", branch="main")
    started = store.start_build(build.uuid, "local-1", now=T0)
    assert started.state == "running" and started.node == "local-1" and started.start_time == T0
    with pytest.raises(StoreError, match="cannot start: it is running"):
        store.start_build(build.uuid, "local-2")

    (tmp_path / "artifacts" / "sub").mkdir(parents=True)
    (tmp_path / "artifacts" / "sub" / "report.html").write_text("hello")
    tests = [
        TestCase("test_ok", TestStatus.PASSED, classname="pkg.TestA", duration=0.5),
        TestCase(
            "test_bad", TestStatus.FAILED, classname="pkg.TestA", message="assert 1 == 2", output="boom"
        ),
        TestCase("test_skip", TestStatus.SKIPPED),
    ]
    record = _record(
        build.uuid,
        Result.FAILURE,
        tests,
        metrics=[Metric("boot_time", 12.5, "s")],
        artifacts=["sub/report.html", "missing.txt"],
        build_dir=str(tmp_path),
        reason="run step run.sh exited 1",
        extra={"when": T0},
    )
    done = store.finish_build(build.uuid, record, log_url="https://logs/x")
    assert done.state == "completed" and done.result == "FAILURE"
    assert done.start_time == T0 and done.end_time == T0 + timedelta(seconds=90)
    assert done.duration == 90.0 and done.log_url == "https://logs/x"
    assert (done.tests_passed, done.tests_failed, done.tests_error, done.tests_skipped) == (1, 1, 0, 1)
    assert done.attempts_count == 1
    assert done.extra == {"when": str(T0)}

    attempts = store.build_attempts(build.uuid)
    assert [(a.number, a.result, a.node) for a in attempts] == [(1, "FAILURE", "local-1")]
    assert attempts[0].phases[0]["step"] == "run.sh"

    stored = store.build_tests(build.uuid)
    assert [(t.classname, t.name, t.status) for t in stored] == [
        ("pkg.TestA", "test_ok", "passed"),
        ("pkg.TestA", "test_bad", "failed"),
        ("", "test_skip", "skipped"),
    ]
    assert stored[1].message == "assert 1 == 2" and stored[1].output == "boom"
    assert stored[1].job == "unit" and stored[1].project == "org/a" and stored[1].end_time == done.end_time
    assert [(m.name, m.value, m.unit) for m in store.build_metrics(build.uuid)] == [("boot_time", 12.5, "s")]
    assert [(a.path, a.size) for a in store.build_artifacts(build.uuid)] == [
        ("sub/report.html", 5),
        ("missing.txt", None),
    ]
    with pytest.raises(StoreError, match="already completed"):
        store.finish_build(build.uuid, record)


def test_a_failed_finish_writes_nothing(store: Store) -> None:
    build = store.create_build("unit", project="org/a")
    bad = _record(build.uuid, tests=[TestCase("t", "exploded")])  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="invalid test status 'exploded'"):
        store.finish_build(build.uuid, bad)
    again = store.get_build(build.uuid)
    assert again.state == "waiting" and again.result is None
    assert store.build_attempts(build.uuid) == [] and store.build_tests(build.uuid) == []
    with pytest.raises(StoreError, match="BuildRecord"):
        store.finish_build(build.uuid, {"result": "SUCCESS"})  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        store.finish_build("f" * 32, _record("f" * 32))


def test_test_output_is_bounded_and_nul_safe(store: Store) -> None:
    build = store.create_build("unit", project="org/a")
    huge = "start\x00" + "x" * (MAX_OUTPUT * 3) + "the end"
    store.finish_build(build.uuid, _record(build.uuid, tests=[TestCase("t", TestStatus.ERROR, output=huge)]))
    [stored] = store.build_tests(build.uuid)
    assert len(stored.output) <= MAX_OUTPUT
    assert stored.output.startswith("start\ufffd") and stored.output.endswith("the end")
    assert "characters cut" in stored.output


def test_interrupted_builds_run_again_as_a_new_attempt(store: Store) -> None:
    build = store.create_build("unit", project="org/a")
    other = store.create_build("lint", project="org/a")
    store.start_build(build.uuid, "node-1", now=T0)
    assert [b.uuid for b in store.interrupted_builds()] == [build.uuid]

    row = store.interrupt_build(build.uuid, now=T0 + timedelta(minutes=5))
    assert (row.number, row.state, row.result, row.node) == (1, "interrupted", None, "node-1")
    assert row.reason == "interrupted by server restart" and row.start_time == T0
    assert store.interrupted_builds() == []
    assert store.get_build(build.uuid).state == "waiting"
    with pytest.raises(StoreError, match="not running"):
        store.interrupt_build(other.uuid)

    store.start_build(build.uuid, "node-2", now=T0 + timedelta(minutes=6))
    store.record_attempt(build.uuid, Attempt(1, Result.ERROR, E0 + 360, E0 + 400, reason="node lost"))
    done = store.finish_build(build.uuid, _record(build.uuid))
    attempts = store.build_attempts(build.uuid)
    assert [(a.number, a.state, a.result) for a in attempts] == [
        (1, "interrupted", None),
        (2, "completed", "ERROR"),
        (3, "completed", "SUCCESS"),
    ]
    assert done.attempts_count == 3
    assert done.start_time == T0  # the first start counts


def test_list_builds_filters_and_pages_newest_first(store: Store) -> None:
    uuids = []
    for n, (project, job, result) in enumerate(
        [("org/a", "unit", "SUCCESS"), ("org/a", "lint", "FAILURE"), ("org/b", "unit", "FAILURE")]
    ):
        bs = _buildset(store, project, change=str(100 + n))
        build = store.create_build(job, buildset_id=bs.id)
        store.finish_build(build.uuid, _record(build.uuid, Result(result)))
        uuids.append(build.uuid)
    running = store.create_build("unit", project="org/a", pipeline="gate")
    store.start_build(running.uuid, "n1")

    assert [b.uuid for b in store.list_builds()] == [running.uuid, *reversed(uuids)]
    assert [b.uuid for b in store.list_builds(project="org/a", pipeline="check")] == [uuids[1], uuids[0]]
    assert [b.uuid for b in store.list_builds(job="unit", result="FAILURE")] == [uuids[2]]
    assert [b.uuid for b in store.list_builds(change=101)] == [uuids[1]]
    assert [b.uuid for b in store.list_builds(state="running")] == [running.uuid]
    assert [b.uuid for b in store.list_builds(branch="main", limit=1, skip=1)] == [uuids[1]]
    assert store.list_builds(project="nobody") == []
    with pytest.raises(StoreError, match="invalid result 'GREEN'"):
        store.list_builds(result="GREEN")
    with pytest.raises(StoreError, match="invalid limit"):
        store.list_builds(limit=0)
    with pytest.raises(StoreError, match="invalid skip"):
        store.list_builds(skip=-1)


def test_test_history_newest_first(store: Store) -> None:
    statuses = [TestStatus.PASSED, TestStatus.FAILED, TestStatus.PASSED]
    for status in statuses:
        build = store.create_build("unit", project="org/a")
        cases = [
            TestCase("test_x", status, classname="A"),
            TestCase("test_x", TestStatus.SKIPPED, classname="B"),
        ]
        store.finish_build(build.uuid, _record(build.uuid, tests=cases))
    history = store.test_history("test_x", classname="A")
    assert [h.status for h in history] == ["passed", "failed", "passed"]
    assert len(store.test_history("test_x")) == 6
    assert len(store.test_history("test_x", limit=2)) == 2
    assert store.test_history("test_x", job="other") == []
    with pytest.raises(StoreError, match="test name is required"):
        store.test_history("")


def test_estimates_are_the_mean_of_each_jobs_last_ten_successes(store: Store) -> None:
    durations = {"unit": [100.0] * 3 + [float(n) for n in range(1, 11)], "lint": [5.0, 7.0]}
    for job, values in durations.items():
        for value in values:
            build = store.create_build(job, project="org/a")
            record = _record(build.uuid)
            record.start_time, record.end_time = 1000.0, 1000.0 + value
            store.finish_build(build.uuid, record)
    failed = store.create_build("lint", project="org/a")
    store.finish_build(failed.uuid, _record(failed.uuid, result=Result.FAILURE))
    other = store.create_build("unit", project="org/b")
    store.finish_build(other.uuid, _record(other.uuid))
    estimates = store.estimated_durations("org/a", ["unit", "lint", "never-ran"])
    assert estimates == {"unit": pytest.approx(5.5), "lint": pytest.approx(6.0), "never-ran": None}
    assert store.estimated_duration("org/a", "lint") == pytest.approx(6.0)


def test_a_scheduler_pass_starts_its_builds_in_one_go(store: Store) -> None:
    first, second = store.create_build("unit", project="org/a"), store.create_build("lint", project="org/a")
    store.start_builds_at([(first.uuid, "node-1", T0)])
    store.interrupt_build(first.uuid, "the server stopped", now=T0 + timedelta(seconds=5))
    store.start_builds_at([(first.uuid, "node-2", T0 + timedelta(seconds=9)), (second.uuid, "node-3", T0)])
    again, other = store.get_build(first.uuid), store.get_build(second.uuid)
    assert (again.state, again.node, other.state, other.node) == ("running", "node-2", "running", "node-3")
    assert again.start_time == T0 and again.attempt_start == T0 + timedelta(seconds=9)  # the first start stays
    with pytest.raises(LookupError, match="no build " + "f" * 32):
        store.start_builds_at([(second.uuid, "node-4", T0), ("f" * 32, "node-4", T0)])
    assert store.get_build(second.uuid).node == "node-3"  # nothing written
