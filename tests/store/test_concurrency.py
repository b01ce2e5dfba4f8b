"""The server calls the store from several threads at once."""

import threading

from osci.model import BuildRecord, Result, TestCase, TestStatus
from osci.store import Store

THREADS = 2
BUILDS_PER_THREAD = 25


def test_threads_writing_builds_at_once(store: Store) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(THREADS)

    def work(n: int) -> None:
        try:
            barrier.wait()
            for i in range(BUILDS_PER_THREAD):
                build = store.create_build(f"job-{n}", project="org/a")
                store.start_build(build.uuid, f"node-{n}")
                store.list_builds(job=f"job-{n}", limit=5)  # reads interleaved with writes
                tests = [TestCase(f"t{k}", TestStatus.PASSED) for k in range(5)]
                store.finish_build(
                    build.uuid,
                    BuildRecord(uuid=build.uuid, job=f"job-{n}", result=Result.SUCCESS, tests=tests),
                )
                store.record_event("timer", "timer", payload={"n": n, "i": i})
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for n in range(THREADS):
        builds = store.list_builds(job=f"job-{n}", limit=1000)
        assert len(builds) == BUILDS_PER_THREAD
        assert all(b.state == "completed" and b.tests_passed == 5 for b in builds)
    assert len(store.unprocessed_events()) == THREADS * BUILDS_PER_THREAD


def _deliver_twice_at_once(store: Store, uuid: str) -> list[int]:
    barrier = threading.Barrier(2)
    ids: list[int] = []

    def deliver() -> None:
        barrier.wait()
        ids.append(store.record_event("gh", "push", uuid=uuid).id)

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return ids


def test_the_same_event_delivered_twice_at_once_is_kept_once(store: Store) -> None:
    for round_ in range(5):
        ids = _deliver_twice_at_once(store, f"delivery-{round_}")
        assert len(ids) == 2 and ids[0] == ids[1]
    assert len(store.unprocessed_events()) == 5


def test_extension_modules_get_sessions(store: Store) -> None:
    from sqlalchemy import func, select

    from osci.store.models import Event

    with store.write_session() as session:
        session.add(Event(uuid="e1", connection="git", type="ref-updated", payload={}))
    with store.read_session() as session:
        assert session.scalar(select(func.count()).select_from(Event)) == 1
