"""Dependent and serial pipelines: shared change queues, speculative states, the window, merging.

A project's items in a `dependent` pipeline join the shared queue its `queue` setting names
(or a queue of its own). Each item is tested on top of the branch tips and every non-failing
item ahead of it in its queue (its *chain*); `serial` is the same with a window of one.
The queue's window (Zuul's parameters) says how many items, from the head, are planned and
built at once: it grows as items merge and shrinks as they fail.

Three failure policies (the pipeline's `failure-policy`):

- `zuul`: Zuul's dependent manager. An item with a failed voting job is *failing*: the items
  behind it are re-parented on the nearest non-failing item ahead and re-tested (their builds
  cancelled). A failing item is reported and removed once nothing unmerged is under it. The
  head merges once its own jobs all passed.
- `screen` (the default; osci's best on failures): group testing before speculation. New items
  are *screened* in groups: one probe tests a few changes of a project together on the branch
  tip (the group size follows the queue's measured failure rate). A passing probe makes its
  changes *good*; a failing one is split in halves, down to one change, which fails only when
  its probe alone fails twice (a flake does not eject it). Only good changes join the chain
  (in queue order: a change waits for those ahead of it to be screened), so a bad change
  rarely makes the items behind it re-test.
  And the chain is sparse: an item runs its builds only when no deeper item of its project
  (with at least its jobs, planned on top of it, not failed) covers it; the deepest passing
  state merges with everything under it. Failures in the chain follow the `retry` rules.
- `retry`: the chain as in `zuul`, but a failure only counts against an item once what is
  under it is known good (it is at the head, or the item just ahead passed or is part of a
  passing tree); until then the item stays in the chain. A counted failure is re-run once,
  with the item taken out of the chain meanwhile (the items behind go on without it); a
  second failure reports and removes it, a pass puts it back. And a passing item proves every
  item under it: the deepest passing tree whose chain starts at the branch tips merges at once
  with everything under it (the exact tested commit is what the branch gets), even if their
  own builds failed (a flaky test) or are still running (they are cancelled).

Whatever the policy nothing reaches a branch unless the exact commit it gets was tested: a
merge pushes (or submits) the tested state of the deepest item of the batch.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import uuid as uuidlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from osci.connections.base import ChangeToMerge, DependencyRef, MergeFailed
from osci.model import Result
from osci.scheduler import state as st
from osci.scheduler.jobgraph import JobGraph, JobGraphError
from osci.scheduler.ports import Plan
from osci.scheduler.state import ItemState, buildset_result

if TYPE_CHECKING:
    from osci.scheduler.core import Scheduler

log = logging.getLogger("osci.scheduler.gate")

GATE_MANAGERS = ("dependent", "serial")
POLICIES = ("screen", "retry", "zuul")
DEFAULT_POLICY = "screen"
MERGE_ATTEMPTS = 5
MERGE_BACKOFF = 2.0

FAILING = "failing"  # out of the chain: reported once that is fair (see the policies)
SUSPECT = "suspect"  # osci: its failure counted once; out of the chain while it is re-run
MERGING = "merging"
SCREENING = "screening"  # screen: in a running probe
GOOD = "good"  # screen: passed a probe (or needs no probe): it may join the chain
PRIOR_FAILURE_RATE = 0.1  # screen: what the group size assumes before a queue has verdicts
PRIOR_WEIGHT = 10
MAX_GROUP = 16


@dataclass
class GateQueue:
    pipeline: str
    name: str
    window: float
    items: list[str] = field(default_factory=list)
    merging: bool = False
    probes: list[str] = field(default_factory=list)  # screen: the running probes' item ids
    screened: int = 0  # screen: changes given a verdict alone or in a passing group...
    bad: int = 0  # ...and those found bad: the failure rate the group size follows


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
        if queue is None or pipeline is None or item.probe_of is not None:
            return True
        if item.gate == MERGING:
            return False  # a deeper passing state proved it: its own builds are not needed
        if self.policy(pipeline) == "screen":
            if item.screen != GOOD:
                return False  # builds left from before a restart: it is screened first
            if self._covered(queue, item):
                return False
        return item.place is None or item.place <= self.limit(queue, pipeline)

    def _covered(self, queue: GateQueue, item: ItemState) -> bool:
        """screen: a deeper item of its project and branch, planned on top of it with at least
        its jobs and not failed, will test its state along with its own: it need not build."""
        if item.gate:
            return False
        jobs = set(item.builds)
        behind = False
        for uuid in queue.items:
            if uuid == item.uuid:
                behind = True
                continue
            later = self.s.items.get(uuid) if behind else None
            if (
                later is None
                or not later.live
                or later.gate
                or later.ahead_sig is None
                or (later.project, later.branch) != (item.project, item.branch)
                or item.uuid not in later.ahead
            ):
                continue
            if later.graph is not None and not jobs <= set(later.builds):
                continue
            if self.tree(later) != "failed":
                return True
        return False

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
        if policy == "screen":
            await self._screen(queue, pipeline)
        items = self._live(queue)
        limit = self.limit(queue, pipeline)
        chain: list[str] = []
        blocked = False
        for index, item in enumerate(items):
            item.place = index + 1
            if policy == "screen" and (blocked or item.screen != GOOD):
                blocked = True  # not screened yet: neither it nor the items behind it join the chain
                continue
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
        self.s._spawn(self.s._plan(item, item.generation), f"plan-{item.uuid}")

    async def _reset(self, item: ItemState, why: str) -> None:
        """Throw away the item's speculative state and builds; it is planned again."""
        await self._abort_builds(item, why)
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

    async def _fail(self, queue: GateQueue, pipeline: Any, item: ItemState, *, shrink: bool = True) -> None:
        result = item.result if item.graph is None and item.result else str(buildset_result(item))
        if result == str(Result.SUCCESS):
            result = str(Result.FAILURE)
        slot = {str(Result.ERROR): "error", str(Result.RETRY_LIMIT): "error"}.get(result, "failure")
        if result == str(Result.MERGE_CONFLICT) and self.s._has_reporters(item, "merge-conflict"):
            slot = "merge-conflict"
        message = item.message or "a voting job failed"
        self.stats["failed"] += 1
        if shrink:
            self.shrink(queue, pipeline)
        await self._close(item, result, message, slot)

    # -- screening (the `screen` policy) -------------------------------------------------------

    @staticmethod
    def group_size(queue: GateQueue) -> int:
        """How many changes one probe tests: Dorfman's optimum for the failure rate measured in
        this queue (a prior of 10% until it has verdicts of its own)."""
        rate = (queue.bad + PRIOR_FAILURE_RATE * PRIOR_WEIGHT) / (queue.screened + PRIOR_WEIGHT)
        best, cost = 1, 1.0
        for size in range(2, MAX_GROUP + 1):
            expected = 1 / size + 1 - (1 - rate) ** size  # probes per change, splits counted once
            if expected < cost:
                best, cost = size, expected
        return best

    async def _screen(self, queue: GateQueue, pipeline: Any) -> None:
        """Probes come back (good changes join the chain, failing groups split, a change failing
        alone twice is ejected); changes not screened yet are grouped into new probes."""
        for probe_uuid in list(queue.probes):
            probe = self.s.items.get(probe_uuid)
            if probe is None:
                queue.probes.remove(probe_uuid)
                continue
            members = [self.s.items.get(u) for u in probe.probe_of or []]
            live = [m for m in members if m is not None and m.live and m.screen == SCREENING]
            if len(live) != len(members):
                await self._drop_probe(queue, probe, "a change of it left the queue")
                for member in live:
                    member.screen = ""
                continue
            verdict = self.probe_verdict(probe)
            if verdict == "running":
                continue
            await self._drop_probe(queue, probe, f"the probe {verdict}")
            await self._probe_done(queue, pipeline, probe, live, verdict)
        ungrouped: dict[tuple[str, str | None], list[ItemState]] = {}
        for item in self._live(queue):
            if item.screen or item.gate:
                continue
            needs = [n for n in item.needs if n not in self.merged and self._is_live(n)]
            if needs:  # tested in the chain, on top of what it needs
                if all(self.s.items[n].screen == GOOD for n in needs):
                    self._mark_good(item)
                continue
            ungrouped.setdefault((item.project, item.branch), []).append(item)
        size = self.group_size(queue)
        for items in ungrouped.values():
            for start in range(0, len(items), size):
                self._new_probe(queue, items[start : start + size])

    async def _probe_done(
        self, queue: GateQueue, pipeline: Any, probe: ItemState, members: list[ItemState], verdict: str
    ) -> None:
        if verdict == "passed":
            queue.screened += len(members)
            for member in members:
                self._mark_good(member)
        elif verdict == "error":  # infrastructure: once more, then the chain tests them itself
            if probe.retried:
                for member in members:
                    self._mark_good(member)
            else:
                self._new_probe(queue, members, retried=True)
        elif len(members) > 1:  # one of them (at least) is bad: each half is probed
            half = (len(members) + 1) // 2
            self._new_probe(queue, members[:half])
            self._new_probe(queue, members[half:])
        else:
            member = members[0]
            member.screen_failures += 1
            if verdict == "conflict" or member.screen_failures >= 2:
                queue.screened += 1
                queue.bad += 1
                member.graph, member.builds = probe.graph, probe.builds
                member.buildset_uuid, member.commits = probe.buildset_uuid, probe.commits
                member.result = probe.result
                member.message = probe.message or "a voting job failed on the branch tip, twice"
                await self._fail(queue, pipeline, member, shrink=False)
            else:  # a flaky test must not eject it: once more
                self._new_probe(queue, members)

    def _mark_good(self, item: ItemState) -> None:
        """A good change joins the chain once every change ahead of it in the queue has (queue
        order is merge order, as in Zuul): the pass that builds the chain sees to that."""
        item.screen = GOOD
        self.s.wake()

    def _new_probe(self, queue: GateQueue, members: list[ItemState], *, retried: bool = False) -> None:
        last = members[-1]
        probe = ItemState(
            uuid=uuidlib.uuid4().hex,
            pipeline=last.pipeline,
            project=last.project,
            branch=last.branch,
            ref=last.ref,
            newrev=last.newrev,
            change=last.change,
            patchset=last.patchset,
            author=last.author if len(members) == 1 else None,
            connection=last.connection,
            event_uuid=last.event_uuid,
            enqueue_time=min(m.enqueue_time for m in members),
            queue=queue.name,
            probe_of=[m.uuid for m in members],
            record_as=last.uuid,
            retried=retried,
        )
        probe.under = [_label(m) for m in members]
        for member in members:
            member.screen = SCREENING
        self.s.items[probe.uuid] = probe
        queue.probes.append(probe.uuid)
        probe.planning = True
        self.s._spawn(self._plan_probe(probe, members), f"probe-{probe.uuid}")

    async def _plan_probe(self, probe: ItemState, members: list[ItemState]) -> None:
        """The probe's state: its changes merged in order onto the branch tip; its jobs: every
        job of any of them, each run once."""
        try:
            plan = await self._probe_plan(probe, members)
            if probe.state != st.PREPARING:
                return
            if not plan.error and plan.jobs:
                try:
                    graph = JobGraph.build(plan.jobs)
                except JobGraphError as exc:
                    plan = Plan(error=f"configuration error: {exc}")
            if plan.error:
                probe.result, probe.message = plan.result or str(Result.FAILURE), plan.error
            elif not plan.jobs:
                probe.result, probe.message = str(Result.SUCCESS), "no jobs to run"
            else:
                probe.graph, probe.builds = graph, await self.s.new_builds(probe, graph)
                probe.commits = dict(plan.commits)
                probe.source = str(plan.source) if plan.source else None
                probe.checkout = plan.ref
                probe.projects = dict(plan.projects)
                probe.buildset_uuid = uuidlib.uuid4().hex
                await self.s.records.item_planned(probe, [])
                if probe.state != st.PREPARING:  # dropped while it was recorded
                    await self._abort_builds(probe, "the probe was dropped")
                    return
            probe.state = st.ACTIVE
        except Exception as exc:
            log.exception("planning probe %s failed", probe.uuid)
            if probe.state == st.PREPARING:
                probe.graph, probe.builds = None, {}
                probe.result, probe.message = str(Result.ERROR), f"could not plan the probe: {exc}"
                probe.state = st.ACTIVE
        finally:
            probe.planning = False
            self.s.wake()

    async def _probe_plan(self, probe: ItemState, members: list[ItemState]) -> Plan:
        onto: dict[str, str] = {}
        jobs: dict[str, Any] = {}
        plan = Plan()
        for member in members:
            clone = dataclasses.replace(
                member, uuid=probe.uuid, onto=dict(onto), bases={}, commits={}, graph=None, builds={}
            )
            plan = await self.s.planner.plan(clone)
            if plan.error:
                return plan
            onto.update(plan.commits or ({member.project: plan.ref} if plan.ref else {}))
            for job in plan.jobs:
                jobs[job.name] = job
            if member.files is None and clone.files is not None:
                member.files = clone.files
        plan.jobs, plan.commits = list(jobs.values()), onto
        return plan

    @staticmethod
    def probe_verdict(probe: ItemState) -> str:
        """running, passed, failed (a voting job failed: a change of it is bad), conflict, or
        error (infrastructure: nobody's fault)."""
        if probe.state == st.ACTIVE and probe.graph is None:  # nothing to build: why not
            return {
                str(Result.SUCCESS): "passed",
                str(Result.MERGE_CONFLICT): "conflict",
                str(Result.ERROR): "error",
                str(Result.RETRY_LIMIT): "error",
            }.get(probe.result or "", "failed")
        verdict = GateManager.tree(probe)
        if verdict == "failed" and buildset_result(probe) is not Result.FAILURE:
            return "error"  # infrastructure, or aborted: nobody's fault
        return verdict

    async def _drop_probe(self, queue: GateQueue, probe: ItemState, why: str) -> None:
        probe.state = st.DEQUEUED
        await self._abort_builds(probe, why)
        self.s.items.pop(probe.uuid, None)
        if probe.uuid in queue.probes:
            queue.probes.remove(probe.uuid)

    async def _abort_builds(self, item: ItemState, why: str) -> None:
        aborted = self.s.stop_builds(item, why)
        if aborted:
            await self.s.records.build_done(item, None, None, aborted, False, [])

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
        aborted = self.s.stop_builds(item, message)
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
            probes = [self.s.items[u] for u in queue.probes if u in self.s.items]
            queues.append(
                {
                    "name": queue.name,
                    "window": None if math.isinf(limit) else int(limit),
                    "failure_policy": self.policy(pipeline),
                    "items": [i.summary() for i in items],
                    "probes": [_probe_summary(p) for p in probes],
                }
            )
        return queues


def _probe_summary(probe: ItemState) -> dict[str, Any]:
    """What the status shows of a probe: the changes it tests together, their state, its jobs."""
    summary = probe.summary()
    return {
        "id": probe.uuid,
        "items": list(probe.probe_of or []),
        "changes": list(probe.under),
        "commits": summary["commits"],
        "state": summary["state"],
        "jobs": summary["jobs"],
    }


def _label(item: ItemState) -> str:
    if item.change:
        return f"{item.project} change {item.change}" + (f",{item.patchset[:12]}" if item.patchset else "")
    return f"{item.project} {item.ref or item.branch or ''}".strip()


def _ref_label(ref: DependencyRef) -> str:
    return f"{ref.project + ' ' if ref.project else ''}change {ref.change} ({ref.connection})"
