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
