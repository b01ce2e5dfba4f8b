"""Fill a real store and blob folder through their own methods."""

from __future__ import annotations

from datetime import UTC, datetime

from osci.model import Attempt, BuildRecord, Metric, Result, TestCase, TestStatus
from osci.store import BlobStore, Store
from osci.store.models import Build

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
E0 = T0.timestamp()


def item_buildset(store: Store, project: str = "org/app", change: str | None = "42", pipeline: str = "check"):
    item = store.create_item(pipeline, project, branch="main", change=change, newrev="abc123")
    return item, store.create_buildset(item.id, {"jobs": [], "dependencies": {}})


def finished_build(
    store: Store,
    blobs: BlobStore,
    job: str = "unit",
    result: Result = Result.SUCCESS,
    *,
    buildset_id: int | None = None,
    project: str = "org/app",
    pipeline: str = "check",
    tests: list[TestCase] | None = None,
    artifacts: dict[str, bytes] | None = None,
    console: str = "hello\nworld\n",
    interrupted: bool = False,
) -> Build:
    """A completed build with a console log, optional tests and artifacts written to its folder."""
    kwargs = {} if buildset_id is not None else {"project": project, "pipeline": pipeline, "branch": "main"}
    build = store.create_build(job, buildset_id=buildset_id, **kwargs)
    store.start_build(build.uuid, "local-1")
    if interrupted:
        store.interrupt_build(build.uuid)
        store.start_build(build.uuid, "local-2")
    folder = blobs.build_dir(build.uuid, create=True)
    (folder / "job-output.txt").write_text(console)
    for path, data in (artifacts or {}).items():
        target = folder / "artifacts" / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    record = BuildRecord(
        uuid=build.uuid,
        job=job,
        result=result,
        start_time=E0,
        end_time=E0 + 90,
        attempts=[Attempt(1, result, E0, E0 + 90, node="local-2", reason="run step exited 1")],
        tests=tests or [],
        metrics=[Metric("boot_time", 12.5, "s")],
        artifacts=sorted(artifacts or {}),
        build_dir=str(folder),
    )
    return store.finish_build(build.uuid, record)


def some_tests() -> list[TestCase]:
    return [
        TestCase("test_ok", TestStatus.PASSED, classname="pkg.A", duration=0.1),
        TestCase("test_skip", TestStatus.SKIPPED, classname="pkg.A"),
        TestCase("test_bad", TestStatus.FAILED, classname="pkg.A", message="assert 1 == 2", output="boom"),
        TestCase("test_err", TestStatus.ERROR, classname="pkg.B", message="ImportError"),
    ]
