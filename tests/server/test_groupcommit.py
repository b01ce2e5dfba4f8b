"""Group commit: concurrent writes share transactions, each caller gets its own outcome."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from osci.model import BuildRecord, Result
from osci.server.groupcommit import GroupCommit
from osci.store import Store, StoreError
from osci.store.scheduling import BuildDone


def _db_thread():
    pool = ThreadPoolExecutor(max_workers=1)

    async def db(func, *args):
        return await asyncio.get_running_loop().run_in_executor(pool, lambda: func(*args))

    return pool, db


def test_writes_arriving_meanwhile_share_one_transaction_in_order() -> None:
    pool, db = _db_thread()
    groups: list[list[int]] = []
    first_started = threading.Event()
    release = threading.Event()

    def write_many(entries: list[int]) -> None:
        groups.append(list(entries))
        if len(groups) == 1:
            first_started.set()
            release.wait(10)

    async def main() -> None:
        commit: GroupCommit[int] = GroupCommit(db, write_many)
        first = asyncio.create_task(commit.write(0))
        await asyncio.get_running_loop().run_in_executor(None, first_started.wait, 10)
        rest = [asyncio.create_task(commit.write(n)) for n in range(1, 8)]
        await asyncio.sleep(0.05)
        release.set()
        await asyncio.gather(first, *rest)

    asyncio.run(main())
    pool.shutdown()
    assert groups == [[0], [1, 2, 3, 4, 5, 6, 7]]


def test_a_bad_write_fails_alone_and_the_others_are_committed(tmp_path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'osci.db'}")
    store.migrate()
    builds = [store.create_build("unit", project="org/a") for _ in range(4)]
    store.finish_build(builds[2].uuid, BuildRecord(uuid=builds[2].uuid, job="unit", result=Result.SUCCESS))
    pool, db = _db_thread()

    async def main() -> list[BaseException | None]:
        commit: GroupCommit[BuildDone] = GroupCommit(db, store.builds_done)
        # all four arrive before the writer runs: one group, which fails on the third, then each alone
        writes = [
            commit.write(BuildDone(b.uuid, BuildRecord(uuid=b.uuid, job="unit", result=Result.FAILURE)))
            for b in builds
        ]
        return await asyncio.gather(*writes, return_exceptions=True)

    outcomes = asyncio.run(main())
    pool.shutdown()
    assert [type(o) for o in outcomes] == [type(None), type(None), StoreError, type(None)]
    assert "already completed" in str(outcomes[2])
    results = {b.uuid: store.get_build(b.uuid).result for b in builds}
    store.close()
    assert [results[b.uuid] for b in builds] == ["FAILURE", "FAILURE", "SUCCESS", "FAILURE"]


@pytest.mark.parametrize("size", [1, 3])
def test_most_bounds_a_transaction(size: int) -> None:
    pool, db = _db_thread()
    groups: list[list[int]] = []

    async def main() -> None:
        commit: GroupCommit[int] = GroupCommit(db, lambda entries: groups.append(list(entries)), most=size)
        await asyncio.gather(*(commit.write(n) for n in range(7)))

    asyncio.run(main())
    pool.shutdown()
    assert [n for group in groups for n in group] == list(range(7))
    assert max(len(group) for group in groups) <= size
