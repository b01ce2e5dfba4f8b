"""A simulated gate: osci's real Scheduler (and its dependent manager) with in-memory ports and a
simulated clock. Used by bench/gate.py and by tests/scheduler/test_gate.py.

Each change is "bad" or not; a build of a speculative state fails when any change in it is bad,
or at random with the flake rate. The planner makes a state's "commit" the list of changes it
holds, so the gatekeeper can check that every merged commit is one a passing build tested.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from osci.config.pipelines import Pipeline
from osci.connections.base import ChangeToMerge, DependencyRef, MergeFailed
from osci.model import BuildRecord, Event, FrozenJob, Result, SourceLocation
from osci.scheduler.core import Scheduler
from osci.scheduler.ports import BuildOrder, Plan
from osci.scheduler.state import ItemState

LOC = SourceLocation(file="sim.yaml", line=1, column=1)


def make_pipeline(manager: str = "dependent", **settings: Any) -> Pipeline:
    pipeline = Pipeline(name="gate", location=LOC, name_location=LOC, manager=manager)
    for key, value in settings.items():
        setattr(pipeline, key, value)
    return pipeline


class Config:
    def __init__(self, pipeline: Pipeline, queues: dict[str, str] | None = None) -> None:
        self.pipelines = {pipeline.name: pipeline}
        self.projects: dict[str, Any] = {}
        self.queues = queues or {}

    def project_settings(self, project: str) -> Any:
        return SimpleNamespace(queue=self.queues.get(project), merge_mode=None)


class Records:
    async def record_event(self, event: Event) -> bool:
        return True

    async def unprocessed_events(self) -> list[Event]:
        return []

    async def event_handled(self, *args: Any) -> None: ...
    async def item_planned(self, *args: Any) -> None: ...
    async def builds_started(self, *args: Any) -> None: ...
    async def build_done(self, *args: Any) -> None: ...

    async def item_closed(self, item: ItemState, aborted: Any, reports: Any) -> None: ...

    async def live_items(self) -> list[ItemState]:
        return []

    async def estimated_durations(self, project: str, jobs: list[str]) -> dict[str, float | None]:
        return dict.fromkeys(jobs)


class Clock:
    """Simulated time: builds finish when the driver advances the clock to their end."""

    def __init__(self) -> None:
        self.now = 0.0
        self._heap: list[tuple[float, int, asyncio.Future]] = []
        self._seq = itertools.count()

    def sleep_until(self, when: float) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        heapq.heappush(self._heap, (when, next(self._seq), future))
        return future

    def advance(self) -> bool:
        """Jump to the next build end; False when nothing is waiting."""
        while self._heap and self._heap[0][2].done():
            heapq.heappop(self._heap)
        if not self._heap:
            return False
        when = self._heap[0][0]
        self.now = max(self.now, when)
        while self._heap and self._heap[0][0] <= when:
            _, _, future = heapq.heappop(self._heap)
            if not future.done():
                future.set_result(None)
        return True


@dataclass
class Sim:
    """The outcome model and the bookkeeping shared by the fake ports."""

    bad: set[str]
    flake: float = 0.0
    build_time: float = 1.0
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    job_names: tuple[str, ...] = ("tests",)
    builds: int = 0
    passed_commits: set[str] = field(default_factory=set)
    tested_commits: set[str] = field(default_factory=set)
    branch: list[str] = field(default_factory=list)  # the changes merged, in order
    pushes: list[str] = field(default_factory=list)  # every commit the branch was set to
    untested_merges: int = 0
    refuse: set[str] = field(default_factory=set)  # changes whose merge the review system refuses
    depends: dict[str, list[str]] = field(default_factory=dict)  # change -> changes it depends on
    flaky: dict[str, int] = field(default_factory=dict)  # commit -> how many of its builds fail anyway
    peak_running: int = 0


def tree_of(commit: str) -> list[str]:
    return [c for c in commit.split("+") if c and c != "base"]


class Planner:
    def __init__(self, sim: Sim) -> None:
        self.sim = sim

    async def plan(self, item: ItemState) -> Plan:
        tip = self.sim.pushes[-1] if self.sim.pushes else "base"  # the branch as it is now
        under = item.onto.get(item.project) or tip
        commit = f"{under}+{item.change}"
        jobs = [FrozenJob(name=name) for name in self.sim.job_names]
        return Plan(jobs=jobs, source=Path("/sim"), ref=commit, commits={item.project: commit},
                    bases={item.project: tip})  # fmt: skip


class Dispatcher:
    def __init__(self, sim: Sim, clock: Clock, slots: int) -> None:
        self.sim, self.clock, self.slots = sim, clock, slots
        self.running = 0
        self.hold = False  # while builds ending at one instant are being recorded: start none
        self.ended: set[str] = set()  # builds whose time is up (their task may still be recording)

    def free_slots(self) -> int:
        return 0 if self.hold else self.slots - self.running

    async def run(self, order: BuildOrder) -> BuildRecord:
        self.running += 1
        self.sim.builds += 1
        self.sim.peak_running = max(self.sim.peak_running, self.running)
        start = self.clock.now
        commit = order.ref or ""
        try:
            done = self.clock.sleep_until(start + self.sim.build_time)
            cancel = asyncio.get_running_loop().create_future()
            watcher = asyncio.ensure_future(_watch(order, cancel))
            await asyncio.wait([done, cancel], return_when=asyncio.FIRST_COMPLETED)
            watcher.cancel()
            self.ended.add(order.build.uuid)
            if order.cancel.is_set():
                result = Result.ABORTED
            else:
                failed = any(c in self.sim.bad for c in tree_of(commit))
                flaked = self.sim.rng.random() < self.sim.flake
                if self.sim.flaky.get(commit):
                    self.sim.flaky[commit] -= 1
                    flaked = True
                result = Result.FAILURE if failed or flaked else Result.SUCCESS
                self.sim.tested_commits.add(commit)
                if result is Result.SUCCESS:
                    self.sim.passed_commits.add(commit)
        finally:
            self.running -= 1
        return BuildRecord(uuid=order.build.uuid, job=order.build.job.name, result=result,
                           start_time=start, end_time=self.clock.now)  # fmt: skip


async def _watch(order: BuildOrder, cancel: asyncio.Future) -> None:
    while not order.cancel.is_set():
        await asyncio.sleep(0)
        await asyncio.sleep(0.0005)
    if not cancel.done():
        cancel.set_result(None)


class Gatekeeper:
    def __init__(self, sim: Sim) -> None:
        self.sim = sim

    async def merge(self, item: ItemState, change: ChangeToMerge) -> str | None:
        if change.change in self.sim.refuse:
            raise MergeFailed("the review system refused it")
        if change.tested not in self.sim.passed_commits:
            self.sim.untested_merges += 1
        tree = tree_of(change.tested)
        if self.sim.pushes and self.sim.pushes[-1] == change.tested:
            return change.tested  # already there: pushed with a change behind it
        if tree[: len(self.sim.branch)] != self.sim.branch:
            raise MergeFailed(f"{change.tested} does not fast-forward the branch")
        self.sim.branch = tree
        self.sim.pushes.append(change.tested)
        return change.tested

    async def depends_on(self, item: ItemState) -> list[DependencyRef]:
        return [DependencyRef("sim", None, c) for c in self.sim.depends.get(item.change or "", [])]

    async def is_merged(self, dependency: DependencyRef) -> bool:
        return dependency.change in self.sim.branch


class Harness:
    """The real scheduler with simulated ports; `run` drives it to an empty queue."""

    def __init__(
        self, sim: Sim, pipeline: Pipeline, slots: int, queues: dict[str, str] | None = None
    ) -> None:
        self.sim = sim
        self.clock = Clock()
        self.config = Config(pipeline, queues)
        self.dispatcher = Dispatcher(sim, self.clock, slots)
        self.scheduler = Scheduler(
            self.config, Records(), Planner(sim), self.dispatcher, gatekeeper=Gatekeeper(sim)
        )
        self.closed: list[ItemState] = []
        original = self.scheduler.gate._close

        async def close(item: ItemState, result: Any, message: str, slot: str) -> None:
            self.closed.append(item)
            await original(item, result, message, slot)

        self.scheduler.gate._close = close  # type: ignore[method-assign]
        self.windows: list[int] = []

    async def submit(self, change: str, project: str = "p") -> None:
        await self.scheduler.submit(
            Event(connection="sim", type="manual", project=project, branch="main",
                  ref=f"refs/proposals/main/{change}", newrev=None, change=change, pipeline="gate")
        )  # fmt: skip

    async def settle(self) -> None:
        """Let the scheduler decide everything it can at this instant."""
        s = self.scheduler
        for _ in range(100000):
            for _ in range(5):
                await asyncio.sleep(0)
            ended = self.dispatcher.ended
            busy = (
                s._wake.is_set()
                or s._events
                or any(not t.get_name().startswith("build-") or t.get_name()[6:] in ended for t in s._tasks)
            )
            waiting = any(o.cancel.is_set() for o in s.orders.values())
            if not busy and not waiting:
                return
            if waiting:
                await asyncio.sleep(0.001)
        raise RuntimeError("the scheduler never settled")

    def live(self) -> int:
        return sum(1 for i in self.scheduler.items.values() if i.live)

    async def run(self, changes: list[str], limit: float = 1e9, on_tick: Any = None) -> None:
        await self.scheduler.start()
        try:
            for change in changes:
                await self.submit(change)
            while True:
                await self.settle()
                queue = next(iter(self.scheduler.gate.queues.values()), None)
                if queue is not None:
                    self.windows.append(int(queue.window))
                if on_tick is not None:
                    await on_tick(self)
                    await self.settle()
                if self.live() == 0:
                    return
                self.dispatcher.hold = True  # every build ending now is recorded before any starts
                if not self.clock.advance() or self.clock.now > limit:
                    raise RuntimeError(f"stuck at t={self.clock.now}: {self.scheduler.status()}")
                await self.settle()
                self.dispatcher.hold = False
                self.scheduler.wake()
        finally:
            await self.scheduler.stop()

    def results(self) -> dict[str, str]:
        return {i.change or "": i.result or "" for i in self.closed}
