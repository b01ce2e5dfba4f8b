"""Dependent and serial pipelines: shared change queues, speculative states, the window, merging.

A project's items in a `dependent` pipeline join the shared queue its `queue` setting names
(or a queue of its own). Each item is tested on top of the branch tips and every non-failing
item ahead of it in its queue (its *chain*); `serial` is the same with a window of one.
The queue's window (Zuul's parameters) says how many items, from the head, are planned and
built at once: it grows as items merge and shrinks as they fail.

Two failure policies (the pipeline's `failure-policy`):

- `zuul`: Zuul's dependent manager. An item with a failed voting job is *failing*: the items
  behind it are re-parented on the nearest non-failing item ahead and re-tested (their builds
  cancelled). A failing item is reported and removed once nothing unmerged is under it. The
  head merges once its own jobs all passed.
- `osci` (the default): a failure only counts against an item once what is under it is known
  good (it is at the head, or the item just ahead passed or is part of a passing tree); until
  then the item stays in the chain. A counted failure is re-run once, with the item taken out
  of the chain meanwhile (the items behind go on without it); a second failure reports and
  removes it, a pass puts it back. And a passing item proves every item under it: the deepest
  passing tree whose chain starts at the branch tips merges at once with everything under it
  (the exact tested commit is what the branch gets), even if their own builds failed (a
  flaky test) or are still running (they are cancelled).

Either way nothing reaches a branch unless the exact commit it gets was tested: a merge
pushes (or submits) the tested state of the deepest item of the batch.
"""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from osci.connections.base import ChangeToMerge, DependencyRef, MergeFailed
from osci.model import Result
from osci.scheduler import state as st
from osci.scheduler.state import ItemState, buildset_result

if TYPE_CHECKING:
    from osci.scheduler.core import Scheduler

log = logging.getLogger("osci.scheduler.gate")

GATE_MANAGERS = ("dependent", "serial")
POLICIES = ("zuul", "osci")
DEFAULT_POLICY = "osci"
MERGE_ATTEMPTS = 5
MERGE_BACKOFF = 2.0

FAILING = "failing"  # out of the chain: reported once that is fair (see the policies)
SUSPECT = "suspect"  # osci: its failure counted once; out of the chain while it is re-run
MERGING = "merging"


@dataclass
class GateQueue:
    pipeline: str
    name: str
    window: float
    items: list[str] = field(default_factory=list)
    merging: bool = False


def is_change(item: ItemState) -> bool:
    ref = item.ref or ""
    return bool(item.change and item.branch and ref and not ref.startswith(("refs/heads/", "refs/tags/")))


class GateManager:
    def __init__(self, scheduler: Scheduler) -> None:
        self.s = scheduler
        self.queues: dict[tuple[str, str], GateQueue] = {}
        self.merged: set[str] = set()  # items merged by this gate (their dependents may go on)
        self.pushed: dict[str, dict[str, str]] = {}  # merged item -> the branch tips right after it
        self.stats: dict[str, int] = {"merged": 0, "failed": 0, "resets": 0, "retries": 0}

    # -- configuration ------------------------------------------------------------------------

    def pipeline(self, item: ItemState) -> Any:
        return self.s.config.pipelines.get(item.pipeline)

    def is_gate(self, item: ItemState) -> bool:
        pipeline = self.pipeline(item)
        return pipeline is not None and pipeline.manager in GATE_MANAGERS

    @staticmethod
    def policy(pipeline: Any) -> str:
        return getattr(pipeline, "failure_policy", None) or DEFAULT_POLICY

    def queue_name(self, item: ItemState) -> str:
        settings = getattr(self.s.config, "project_settings", None)
        name = None
        if settings is not None:
            try:
                name = settings(item.project).queue
            except Exception:  # an unknown project: a queue of its own
                name = None
        return name or item.project

    def _queue_of(self, item: ItemState) -> GateQueue:
        name = self.queue_name(item)
        key = (item.pipeline, name)
        queue = self.queues.get(key)
        if queue is None:
            pipeline = self.pipeline(item)
            queue = self.queues[key] = GateQueue(item.pipeline, name, float(pipeline.window or 0))
        item.queue = name
        return queue

    @staticmethod
    def limit(queue: GateQueue, pipeline: Any) -> float:
        if pipeline.manager == "serial":
            return 1
        if not pipeline.window:
            return math.inf  # window 0: no window (as in Zuul)
        return max(1, int(queue.window))

    @staticmethod
    def grow(queue: GateQueue, pipeline: Any) -> None:
        if pipeline.manager == "serial" or not pipeline.window:
            return
        if pipeline.window_increase_type == "linear":
            queue.window += pipeline.window_increase_factor
        else:
            queue.window *= pipeline.window_increase_factor
        if pipeline.window_ceiling and queue.window > pipeline.window_ceiling:
            queue.window = pipeline.window_ceiling

    @staticmethod
    def shrink(queue: GateQueue, pipeline: Any) -> None:
        if pipeline.manager == "serial" or not pipeline.window:
            return
        if pipeline.window_decrease_type == "linear":
            queue.window = max(pipeline.window_floor, queue.window - pipeline.window_decrease_factor)
        else:
            factor = pipeline.window_decrease_factor or 1
            queue.window = max(pipeline.window_floor, int(queue.window / factor))

    # -- entering ---------------------------------------------------------------------------

    async def enqueue(self, item: ItemState) -> None:
        """A new item joins the end of its queue, unless a `Depends-On:` keeps it out."""
        queue = self._queue_of(item)
        refusal = await self._dependencies(item, queue)
        if refusal:
            await self._close(item, Result.FAILURE, refusal, "failure")
            return
        queue.items.append(item.uuid)
        self.s.wake()

    def restore(self, item: ItemState) -> None:
        """An item rebuilt from the store after a restart: back in its queue, tested again."""
        queue = self._queue_of(item)
        queue.items.append(item.uuid)
        item.ahead_sig = (("restored", -1),)  # never matches: the next pass resets it

    async def _dependencies(self, item: ItemState, queue: GateQueue) -> str:
        keeper = self.s.gatekeeper
        if keeper is None:
            return ""
        try:
            refs = await keeper.depends_on(item)
        except Exception as exc:
            log.exception("reading the Depends-On of item %s failed", item.uuid)
            return f"cannot read the change's Depends-On: {exc}"
        for ref in refs:
            found = self._find(item, ref)
            if found is not None:
                if found.queue == item.queue and found.uuid in queue.items:
                    item.needs.append(found.uuid)
                    continue
                return (
                    f"depends on {_label(found)} in another queue ({found.queue}) of {item.pipeline}: "
                    "projects that depend on each other must share a queue"
                )
            try:
                merged = await keeper.is_merged(ref)
            except Exception as exc:
                return f"cannot tell whether {_ref_label(ref)} (Depends-On) is merged: {exc}"
            if not merged:
                return (
                    f"depends on {_ref_label(ref)}, which is neither merged nor in the "
                    f"{item.pipeline} queue; it enters once that change is ahead of it or merged"
                )
        return ""

    def _find(self, item: ItemState, ref: DependencyRef) -> ItemState | None:
        for other in self.s.items.values():
            if (
                other.live
                and other is not item
                and other.pipeline == item.pipeline
                and other.connection == ref.connection
                and ref.change in (other.change, other.change_id)
                and (ref.project is None or ref.project == other.project)
            ):
                return other
        return None

    # -- the pass -------------------------------------------------------------------------

    def dispatchable(self, item: ItemState) -> bool:
        queue = self.queues.get((item.pipeline, item.queue or ""))
        pipeline = self.pipeline(item)
        if queue is None or pipeline is None or item.place is None:
            return True
        return item.place <= self.limit(queue, pipeline)

    async def process(self) -> None:
        for queue in list(self.queues.values()):
            await self._process(queue)

    def _live(self, queue: GateQueue) -> list[ItemState]:
        queue.items = [u for u in queue.items if u in self.s.items and self.s.items[u].live]
        return [self.s.items[u] for u in queue.items]

    async def _process(self, queue: GateQueue) -> None:
        pipeline = self.s.config.pipelines.get(queue.pipeline)
        if pipeline is None:
            return
        policy = self.policy(pipeline)
        for item in self._live(queue):  # a change whose dependency failed leaves with it
            gone = [n for n in item.needs if n not in self.merged and not self._is_live(n)]
            if gone:
                await self._close(
                    item, Result.FAILURE, f"a change it depends on (item {gone[0]}) failed or left the queue",
                    "failure",
                )  # fmt: skip
        items = self._live(queue)
        limit = self.limit(queue, pipeline)
        chain: list[str] = []
        for index, item in enumerate(items):
            item.place = index + 1
            expected = tuple((u, self.s.items[u].generation) for u in chain)
            if any(self._is_live(n) and n not in chain for n in item.needs):
                # what it depends on is out of the chain (failing, re-run): it waits out with it
                if item.ahead_sig is not None and item.gate != MERGING:
                    await self._reset(item, "a change it depends on is failing")
                continue
            if item.gate != MERGING and item.ahead_sig is not None and self._live_sig(item) != expected:
                await self._reset(item, "the items ahead of it changed")
            if (
                item.ahead_sig is None
                and item.state == st.PREPARING
                and not item.planning
                and index < limit
                and all(self._ready(self.s.items[u]) for u in chain)
            ):
                self._start_plan(item, list(chain), expected)
            if item.gate not in (FAILING, SUSPECT):
                chain.append(item.uuid)
        await self._outcomes(queue, pipeline, policy)

    def _is_live(self, uuid: str) -> bool:
        item = self.s.items.get(uuid)
        return item is not None and item.live

    def _live_sig(self, item: ItemState) -> tuple[tuple[str, int], ...]:
        return tuple(entry for entry in item.ahead_sig or () if entry[0] not in self.merged)

    def _live_chain(self, item: ItemState) -> list[str]:
        return [u for u in item.ahead if u not in self.merged]

    @staticmethod
    def _ready(item: ItemState) -> bool:
        return item.state == st.ACTIVE and bool(item.commits)

    def _start_plan(self, item: ItemState, chain: list[str], sig: tuple[tuple[str, int], ...]) -> None:
        item.ahead, item.ahead_sig = chain, sig
        item.onto, item.bases, item.under = {}, {}, []
        for uuid in chain:
            under = self.s.items[uuid]
            item.onto.update(under.commits)
            for project, base in under.bases.items():
                item.bases.setdefault(project, base)
            item.under.append(_label(under))
        item.planning = True
        self.s._spawn(self.s._plan(item), f"plan-{item.uuid}")

    async def _reset(self, item: ItemState, why: str) -> None:
        """Throw away the item's speculative state and builds; it is planned again."""
        aborted = []
        for build in item.builds.values():
            if build.state == st.RUNNING and build.uuid in self.s.orders:
                self.s.orders[build.uuid].cancel.set()
            elif build.state == st.WAITING:
                build.state, build.result, build.reason = st.DONE, Result.ABORTED, why
                aborted.append(build)
        if aborted:
            await self.s.records.build_done(item, None, None, aborted, False, [])
        self.stats["resets"] += 1
        item.generation += 1
        item.ahead, item.ahead_sig, item.onto, item.bases, item.commits = [], None, {}, {}, {}
        item.graph, item.builds, item.buildset_uuid = None, {}, None
        item.result, item.message = None, ""
        item.state = st.PREPARING
        if item.gate != SUSPECT:
            item.gate = ""
        self.s.wake()

    # -- plans and builds come back ------------------------------------------------------------

    def planned(self, item: ItemState, commits: dict[str, str], bases: dict[str, str]) -> None:
        item.commits = {**item.onto, **commits}
        item.bases = {**bases, **item.bases}

    async def plan_failed(self, item: ItemState, result: str, message: str) -> None:
        """A speculative state that could not be made (a merge conflict): the item is failing."""
        item.state = st.ACTIVE  # no graph: nothing to dispatch
        item.result, item.message = result, message
        item.gate = FAILING
        self.s.wake()

    @staticmethod
    def tree(item: ItemState) -> str:
        """What its tested state says so far: running, passed or failed."""
        if item.state != st.ACTIVE:
            return "running"
        if item.graph is None:
            return "failed" if item.result else "running"
        voting = [b for b in item.builds.values() if b.job.voting]
        if any(b.result is not None and b.result.counts_against_change for b in voting):
            return "failed"
        if all(b.state == st.DONE for b in item.builds.values()):
            return "passed" if buildset_result(item) is Result.SUCCESS else "failed"
        return "running"

    @staticmethod
    def _complete(item: ItemState) -> bool:
        return item.graph is None or all(b.state == st.DONE for b in item.builds.values())

    # -- outcomes --------------------------------------------------------------------------

    async def _outcomes(self, queue: GateQueue, pipeline: Any, policy: str) -> None:
        items = self._live(queue)
        current = [i for i in items if i.ahead_sig is not None and i.gate != MERGING]
        if policy == "zuul":
            for item in current:
                if item.gate == "" and self.tree(item) == "failed":
                    item.gate = FAILING
                    self.s.wake()
            for item in current:
                if self._live_chain(item):
                    continue
                if item.gate == FAILING and self._complete(item):
                    await self._fail(queue, pipeline, item)
                elif item.gate == "" and self.tree(item) == "passed" and not queue.merging:
                    self._merge(queue, pipeline, [item])
            return
        proven: set[str] = set()  # a passing state proves the items of its project under it
        for item in current:
            if item.gate == "" and self.tree(item) == "passed":
                proven.add(item.uuid)
                proven.update(u for u in self._live_chain(item) if self.s.items[u].project == item.project)
        for item in current:
            if item.gate == MERGING or self.tree(item) != "failed" or item.uuid in proven:
                continue  # a passing tree holds it: its own failure was not its fault
            chain = self._live_chain(item)
            if chain and chain[-1] not in proven:
                continue  # not yet its fault: what is under it may be what fails
            if item.gate == FAILING or item.retried or item.graph is None:
                await self._fail(queue, pipeline, item)
            else:  # counted once: run it again, the items behind go on without it
                item.gate, item.retried = SUSPECT, True
                self.stats["retries"] += 1
                await self._reset(item, "re-run once before it is ejected")
        for item in current:
            if item.gate == SUSPECT and self.tree(item) == "passed":
                item.gate = ""  # a flaky failure: it goes back into the chain
                self.s.wake()
        if queue.merging:
            return
        deepest = None  # the deepest passing item whose whole chain is proven
        for item in self._live(queue):
            if (
                item.gate == ""
                and item.ahead_sig is not None
                and self.tree(item) == "passed"
                and all(u in proven for u in self._live_chain(item))
            ):
                deepest = item
        if deepest is not None:
            batch = [self.s.items[u] for u in self._live_chain(deepest)] + [deepest]
            self._merge(queue, pipeline, batch)

    async def _fail(self, queue: GateQueue, pipeline: Any, item: ItemState) -> None:
        result = item.result if item.graph is None and item.result else str(buildset_result(item))
        if result == str(Result.SUCCESS):
            result = str(Result.FAILURE)
        slot = {str(Result.ERROR): "error", str(Result.RETRY_LIMIT): "error"}.get(result, "failure")
        if result == str(Result.MERGE_CONFLICT) and self.s._has_reporters(item, "merge-conflict"):
            slot = "merge-conflict"
        message = item.message or "a voting job failed"
        self.stats["failed"] += 1
        self.shrink(queue, pipeline)
        await self._close(item, result, message, slot)

    # -- merging -----------------------------------------------------------------------------

    def _merge(self, queue: GateQueue, pipeline: Any, batch: list[ItemState]) -> None:
        queue.merging = True
        for item in batch:
            item.gate = MERGING
        self.s._spawn(self._merge_batch(queue, pipeline, batch), f"merge-{batch[-1].uuid}")

    async def _merge_batch(self, queue: GateQueue, pipeline: Any, batch: list[ItemState]) -> None:
        tested_by = batch[-1]
        tips = dict(tested_by.bases)  # what the branches are now: the tips under its state...
        for uuid in tested_by.ahead:  # ...moved by the items under it that merged already
            tips.update(self.pushed.get(uuid, {}))
        try:
            for item in batch:
                if not item.live:
                    continue
                try:
                    commit = await self._merge_one(item, tested_by, tips)
                except MergeFailed as exc:
                    item.gate = ""
                    self.stats["failed"] += 1
                    self.shrink(queue, pipeline)
                    await self._close(item, Result.FAILURE, f"could not merge: {exc}", "failure")
                    for rest in batch:
                        if rest.live and rest.gate == MERGING:
                            rest.gate = ""
                    return
                tested = tested_by.commits.get(item.project)
                if tested:
                    tips[item.project] = commit or tested
                self.merged.add(item.uuid)
                self.pushed[item.uuid] = dict(tips)
                self.stats["merged"] += 1
                self.grow(queue, pipeline)
                how = f" as {tested[:12]}" if tested and is_change(item) else ""
                under = f" (tested with {_label(tested_by)})" if tested_by is not item else ""
                await self._close(item, Result.SUCCESS, f"merged{how}{under}", "success")
            await self._stale_after_merge(queue, batch)
        finally:
            queue.merging = False
            self.s.wake()

    async def _stale_after_merge(self, queue: GateQueue, batch: list[ItemState]) -> None:
        """The branch moved by `batch`: an item whose state does not hold all of it (one left
        out of the chain meanwhile, a suspect being re-run) is tested again on the new tip."""
        merged = {i.uuid for i in batch if i.uuid in self.merged}
        for item in self._live(queue):
            if (
                item.ahead_sig is not None
                and item.gate not in (MERGING, FAILING)
                and not merged <= set(item.ahead)
            ):
                await self._reset(item, "the branch moved under it")

    async def _merge_one(self, item: ItemState, tested_by: ItemState, tips: dict[str, str]) -> str | None:
        keeper = self.s.gatekeeper
        if keeper is None or not is_change(item):
            return None  # a branch or tag: nothing to merge, its success is the report
        tested = tested_by.commits.get(item.project)
        if not tested:
            raise MergeFailed(f"no tested state of {item.project} to merge")
        change = ChangeToMerge(
            project=item.project,
            branch=item.branch or "",
            change=item.change,
            patchset=item.patchset,
            ref=item.ref,
            tested=tested,
            previous=tips.get(item.project),
            message=f"{_label(item)} passed {item.pipeline}",
        )
        for attempt in range(1, MERGE_ATTEMPTS + 1):
            try:
                try:
                    return await keeper.merge(item, change)
                except MergeFailed:
                    raise
                except Exception as exc:  # a driver's own error: an outage until proven otherwise
                    log.exception("merging %s raised", _label(item))
                    raise MergeFailed(f"{type(exc).__name__}: {exc}", retry=True) from exc
            except MergeFailed as exc:
                if not exc.retry or attempt == MERGE_ATTEMPTS:
                    raise
                log.warning("merging %s failed (attempt %d), retrying: %s", _label(item), attempt, exc)
                await asyncio.sleep(MERGE_BACKOFF * attempt)
        return None

    # -- closing -------------------------------------------------------------------------------

    async def _close(self, item: ItemState, result: Result | str, message: str, slot: str) -> None:
        """Report and remove an item; what it still runs is cancelled."""
        aborted = []
        for build in item.builds.values():
            if build.state == st.RUNNING and build.uuid in self.s.orders:
                self.s.orders[build.uuid].cancel.set()
            elif build.state == st.WAITING:
                build.state, build.result, build.reason = st.DONE, Result.ABORTED, message
                aborted.append(build)
        reports = self.s._close_state(item, result, message, slot)
        await self.s.records.item_closed(item, aborted, reports)
        self.s.items.pop(item.uuid, None)
        self.s.wake()

    # -- status ----------------------------------------------------------------------------------

    def status(self, pipeline: Any) -> list[dict[str, Any]]:
        queues = []
        for (name, _), queue in self.queues.items():
            if name != pipeline.name:
                continue
            items = self._live(queue)
            limit = self.limit(queue, pipeline)
            queues.append(
                {
                    "name": queue.name,
                    "window": None if math.isinf(limit) else int(limit),
                    "failure_policy": self.policy(pipeline),
                    "items": [i.summary() for i in items],
                }
            )
        return queues


def _label(item: ItemState) -> str:
    if item.change:
        return f"{item.project} change {item.change}" + (f",{item.patchset[:12]}" if item.patchset else "")
    return f"{item.project} {item.ref or item.branch or ''}".strip()


def _ref_label(ref: DependencyRef) -> str:
    return f"{ref.project + ' ' if ref.project else ''}change {ref.change} ({ref.connection})"
