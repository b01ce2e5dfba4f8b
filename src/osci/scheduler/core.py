"""The scheduler: events in, items through pipelines, builds out, reports queued.

It is a state machine over stored records. Every transition is written through
`Records` before it is acted on, so a restart rebuilds every queue from the
store. Slow work (git, processes, SQL, sending) happens behind the ports and
comes back as awaited results; the loop itself only decides.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid as uuidlib
from collections import deque
from collections.abc import Callable
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import Any

from osci.model import BuildRecord, BuildReport, Event, FailedTest, Report, Result, TestStatus
from osci.scheduler import state as st
from osci.scheduler.gate import GateManager
from osci.scheduler.jobgraph import JobGraph, JobGraphError
from osci.scheduler.ports import BuildOrder, Dispatcher, Gatekeeper, Plan, Planner, QueuedReport, Records
from osci.scheduler.requirements import unmet
from osci.scheduler.state import BuildState, ItemState, buildset_result
from osci.scheduler.triggers import pipeline_matches

log = logging.getLogger("osci.scheduler")

PRECEDENCE_ORDER = {"high": 0, "normal": 1, "low": 2}
NO_JOBS = "NO_JOBS"
FAILED_TEST_HEAD_LINES = 10


class SchedulerError(ValueError):
    """A request the scheduler cannot honour (unknown pipeline, item, ...); the message says why."""


class Scheduler:
    def __init__(
        self,
        config: Any,
        records: Records,
        planner: Planner,
        dispatcher: Dispatcher,
        *,
        base_url: str = "",
        gatekeeper: Gatekeeper | None = None,
    ) -> None:
        self.config = config
        self.records = records
        self.planner = planner
        self.dispatcher = dispatcher
        self.base_url = base_url.rstrip("/")
        self.items: dict[str, ItemState] = {}
        self.orders: dict[str, BuildOrder] = {}  # running builds by uuid
        self._events: deque[Event] = deque()
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task | None = None
        self._tasks: set[asyncio.Task] = set()
        self._stopping = False
        self.estimates: dict[tuple[str, str], float | None] = {}
        self.event_to_start: deque[float] = deque(maxlen=10000)  # seconds, for /metrics
        self.results_count: dict[str, int] = {}
        self.on_build_done: Callable[[BuildRecord], None] | None = None
        self.gatekeeper = gatekeeper  # merging and Depends-On for dependent pipelines
        self.gate = GateManager(self)  # dependent and serial pipelines (scheduler/gate.py)
        self._served: dict[str, int] = {}  # fair share: when each share last got a node
        self._dispatched = 0

    # -- life cycle -------------------------------------------------------

    async def start(self) -> None:
        """Rebuild the queues from the store, then start deciding."""
        for item in await self.records.live_items():
            self.items[item.uuid] = item
            if self.gate.is_gate(item):
                self.gate.restore(item)
        for event in await self.records.unprocessed_events():
            self._events.append(event)
        self._loop_task = asyncio.create_task(self._loop(), name="osci-scheduler")
        self.wake()

    async def stop(self) -> None:
        """Abort running builds (their post-run still runs) and wait for them to be recorded."""
        self._stopping = True
        for order in list(self.orders.values()):
            order.cancel.set()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._loop_task:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task

    def wake(self) -> None:
        self._wake.set()

    def set_config(self, config: Any) -> None:
        """Use a newly loaded configuration for items planned from now on."""
        self.config = config
        self.wake()

    # -- public API -------------------------------------------------------

    async def submit(self, event: Event) -> bool:
        """Record an event, then act on it. Returns False for a duplicate (already recorded)."""
        if not await self.records.record_event(event):
            return False
        self._events.append(event)
        self.wake()
        return True

    async def dequeue(
        self,
        *,
        item: str | None = None,
        project: str | None = None,
        change: str | None = None,
        ref: str | None = None,
        pipeline: str | None = None,
    ) -> list[str]:
        """Remove matching live items; their running builds are aborted. Returns their ids."""
        matched = [
            i
            for i in self.items.values()
            if i.live
            and i.probe_of is None
            and (item is None or i.uuid == item)
            and (project is None or i.project == project)
            and (change is None or i.change == change)
            and (ref is None or i.ref == ref or i.branch == ref)
            and (pipeline is None or i.pipeline == pipeline)
        ]
        if not matched:
            raise SchedulerError("no live item matches")
        for found in matched:
            await self._close_aborted(found, st.DEQUEUED, "dequeued by request")
        self.wake()
        return [i.uuid for i in matched]

    def status(self) -> dict[str, Any]:
        pipelines = []
        for pipeline in self._pipelines_by_precedence():
            items = [
                i
                for i in self.items.values()
                if i.pipeline == pipeline.name and i.live and i.probe_of is None
            ]
            if pipeline.manager in ("dependent", "serial"):
                queues = self.gate.status(pipeline)
            else:
                queues = [{"name": pipeline.name, "items": [i.summary() for i in items]}]
            pipelines.append(
                {
                    "name": pipeline.name,
                    "manager": pipeline.manager,
                    "precedence": pipeline.precedence,
                    "queues": queues,
                }
            )
        return {"pipelines": pipelines}

    # -- the loop ---------------------------------------------------------

    async def _loop(self) -> None:
        while not self._stopping:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self._process_events()
                self._plan_items()
                await self.gate.process()
                await self._dispatch()
            except Exception:  # never let one bad record stop the scheduler
                log.exception("scheduler pass failed")
                await asyncio.sleep(0.5)
                self.wake()

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("task %s failed", task.get_name(), exc_info=task.exception())
        self.wake()

    def _pipelines_by_precedence(self) -> list[Any]:
        pipelines = list(self.config.pipelines.values())
        return sorted(pipelines, key=lambda p: PRECEDENCE_ORDER.get(p.precedence, 1))

    # -- events -> items --------------------------------------------------

    async def _process_events(self) -> None:
        while self._events:
            event = self._events.popleft()
            try:
                items, outcome = await self._handle_event(event)
            except Exception as exc:  # a malformed event is recorded as such, never retried forever
                log.exception("event %s could not be handled", event.uuid)
                items, outcome = [], f"error: {exc}"
            await self.records.event_handled(event, items, outcome)
            for item in items:
                self.items[item.uuid] = item
                if self.gate.is_gate(item):
                    await self.gate.enqueue(item)

    async def _handle_event(self, event: Event) -> tuple[list[ItemState], str]:
        if event.payload.get("malformed"):  # a driver could not read what it received: kept, not acted on
            return [], f"error: {event.payload['malformed']}"
        closed = await self._dequeue_closed(event) if event.payload.get("closes") else ""
        entered, outcome = await self._enter_pipelines(event)
        return entered, f"{closed}; {outcome}" if closed else outcome

    async def _dequeue_closed(self, event: Event) -> str:
        """A change that was closed or merged (the event's payload says `closes`) leaves every
        queue: its running builds are aborted, as on `osci dequeue`."""
        gone = [
            i
            for i in self.items.values()
            if i.live
            and i.probe_of is None
            and event.change
            and i.project == event.project
            and i.change == event.change
        ]
        for item in gone:
            await self._close_aborted(item, st.DEQUEUED, f"{event.type}: the change was closed")
        return f"dequeued {len(gone)} item(s) of the closed change" if gone else ""

    async def _enter_pipelines(self, event: Event) -> tuple[list[ItemState], str]:
        entered: list[ItemState] = []
        refused: list[str] = []  # pipelines whose trigger matched but whose require/reject did not
        for pipeline in self._pipelines_by_precedence():
            if not pipeline_matches(pipeline, event):
                continue
            if not self._project_known(event.project):
                return [], f"project {event.project} is not configured"
            reasons = unmet(pipeline.require, pipeline.reject, event)
            if reasons:
                refused.append(f"{pipeline.name}: " + "; ".join(reasons))
                continue
            item = ItemState(
                uuid=uuidlib.uuid4().hex,
                pipeline=pipeline.name,
                project=event.project,
                branch=event.branch,
                ref=event.ref,
                newrev=event.newrev,
                oldrev=event.oldrev,
                change=event.change,
                patchset=event.patchset,
                author=event.author,
                files=event.files,
                event_uuid=event.uuid,
                connection=event.connection,
                enqueue_time=time.time(),
                change_id=(event.payload or {}).get("change_id"),
                only_jobs=(event.payload or {}).get("only_jobs"),  # a culprit search's build
            )
            if pipeline.manager == "supercedent":
                for older in list(self.items.values()):
                    if (
                        older.live
                        and older.probe_of is None
                        and older.pipeline == pipeline.name
                        and older.key() == item.key()
                    ):
                        await self._close_aborted(
                            older, st.SUPERSEDED, f"superseded by {item.newrev or item.uuid}"
                        )
            if item.change and item.patchset and pipeline.dequeue_on_new_patchset:
                await self._supersede_patchsets(pipeline.name, item)
            entered.append(item)
        if not entered:
            return [], ("not enqueued: " + " | ".join(refused)) if refused else "no pipeline matched"
        outcome = "enqueued into " + ", ".join(f"{i.pipeline} (item {i.uuid})" for i in entered)
        return entered, "; ".join([outcome, *(f"not enqueued: {r}" for r in refused)])

    async def _supersede_patchsets(self, pipeline: str, item: ItemState) -> None:
        """A new patchset of a change replaces its older ones in the pipeline (Zuul's
        `dequeue-on-new-patchset`, on by default)."""
        for older in list(self.items.values()):
            if (
                older.live
                and older.probe_of is None
                and older.pipeline == pipeline
                and (older.project, older.change) == (item.project, item.change)
                and _older_patchset(older.patchset, item.patchset)
            ):
                await self._close_aborted(older, st.SUPERSEDED, f"superseded by patchset {item.patchset}")

    def _project_known(self, project: str) -> bool:
        projects = getattr(self.config, "projects", {})
        return project in projects or not projects

    # -- items -> plans ---------------------------------------------------

    def _plan_items(self) -> None:
        for item in list(self.items.values()):
            if item.state == st.PREPARING and not item.planning and item.queue is None:
                item.planning = True
                self._spawn(self._plan(item, item.generation), f"plan-{item.uuid}")

    async def _plan(self, item: ItemState, generation: int) -> None:
        """`generation`: the item's when the plan was asked for (a task starts later, and a gate
        may have thrown the state it was asked for away meanwhile)."""
        try:
            await self._plan_item(item, generation)
        finally:
            item.planning = False  # only now: until the plan is recorded, no other pass may plan it

    async def _plan_item(self, item: ItemState, generation: int) -> None:
        if item.generation != generation:
            return
        try:
            plan = await self.planner.plan(item)
        except Exception as exc:
            log.exception("planning item %s failed", item.uuid)
            plan = Plan(error=f"could not prepare the change: {exc}")
        if item.state != st.PREPARING or item.generation != generation:
            return  # dequeued or superseded meanwhile, or (gate) what is under it changed
        item.not_run = plan.not_run
        if plan.files is not None and item.files is None:
            item.files = plan.files
        if plan.error:
            result = Result(plan.result) if plan.result else Result.FAILURE
            slot = "error" if result.is_infrastructure else "failure"  # never blame the change for ours
            if result is Result.MERGE_CONFLICT and self._has_reporters(item, "merge-conflict"):
                slot = "merge-conflict"  # without reporters of its own, a conflict goes to `failure`
            if item.queue is not None:  # gate: failing, reported when that is fair
                await self.gate.plan_failed(item, str(result), plan.error)
                return
            await self._close(item, result, plan.error, slot)
            return
        try:
            graph = JobGraph.build(plan.jobs)
        except JobGraphError as exc:
            await self._close(item, Result.FAILURE, f"configuration error: {exc}", "failure")
            return
        if not graph.jobs:
            reasons = (
                "; ".join(f"{job}: {', '.join(why)}" for job, why in plan.not_run) or "no jobs configured"
            )
            await self._close(item, NO_JOBS, reasons, "no-jobs")
            return
        builds = await self.new_builds(item, graph)
        if item.state != st.PREPARING or item.generation != generation:
            return
        item.graph, item.builds = graph, builds
        if item.queue is not None:
            self.gate.planned(
                item, plan.commits or ({item.project: plan.ref} if plan.ref else {}), plan.bases
            )
        item.source = str(plan.source) if plan.source else None
        item.checkout = plan.ref
        item.projects = dict(plan.projects)
        item.buildset_uuid = uuidlib.uuid4().hex
        try:
            await self.records.item_planned(item, self._reports(item, "start", None))
        except Exception:
            log.exception("recording the plan of item %s failed; planning it again", item.uuid)
            item.graph, item.builds, item.buildset_uuid = None, {}, None
            return
        item.state = st.ACTIVE  # dispatchable only once its builds are in the store

    async def new_builds(self, item: ItemState, graph: JobGraph) -> dict[str, BuildState]:
        """A waiting build for each job of the graph, with its estimated duration."""
        builds: dict[str, BuildState] = {}
        unknown = [name for name in graph.jobs if (item.project, name) not in self.estimates]
        if unknown:  # asked once per job; kept current as builds succeed
            for name, estimate in (await self.records.estimated_durations(item.project, unknown)).items():
                self.estimates[item.project, name] = estimate
        for name, job in graph.jobs.items():
            key = (item.project, name)
            build_uuid = uuidlib.uuid4().hex
            builds[name] = BuildState(
                uuid=build_uuid, job=job, estimated=self.estimates[key], log_url=self.log_url_for(build_uuid)
            )
        return builds

    def log_url_for(self, build_uuid: str) -> str:
        return f"{self.base_url}/logs/{build_uuid}/"

    # -- plans -> builds --------------------------------------------------

    def _waiting_builds(self) -> list[tuple[ItemState, str]]:
        """The builds that may start, in the order they get nodes: by precedence, then fair
        share. Within a precedence, shares (projects; a shared gate queue counts as one) take
        turns, counting the builds each already has running, so a flood from one project does
        not starve the others; on equal turns the share served longest ago goes first, then the
        earlier item. Runs on every scheduler pass: one sort, items with nothing waiting skipped."""
        order = {p.name: PRECEDENCE_ORDER.get(p.precedence, 1) for p in self.config.pipelines.values()}
        turns: dict[tuple[int, str], int] = {}  # builds a share has running or ahead in this list
        ready: list[tuple[tuple[int, str], ItemState, list[str]]] = []
        for item in sorted(self.items.values(), key=attrgetter("enqueue_time")):  # stable: ties keep queue order
            if item.state != st.ACTIVE:
                continue
            share = (order.get(item.pipeline, 1), _share(item))
            started = [n for n, b in item.builds.items() if b.state != st.WAITING]
            busy = sum(1 for n in started if item.builds[n].state == st.RUNNING)
            if busy:
                turns[share] = turns.get(share, 0) + busy
            if item.graph is None or len(started) == len(item.builds):
                continue
            if item.queue is not None and not self.gate.dispatchable(item):
                continue  # outside its queue's window
            names = item.graph.runnable(item.done_results(), started)
            if names:
                ready.append((share, item, names))
        fair = []
        for share, item, names in ready:
            served = self._served.get(share[1], 0)
            for name in names:
                turn = turns[share] = turns.get(share, 0) + 1
                fair.append((share[0], turn, served, item.enqueue_time, item, name))
        fair.sort(key=itemgetter(0, 1, 2, 3))
        return [(c[4], c[5]) for c in fair]

    async def _dispatch(self) -> None:
        free = self.dispatcher.free_slots()
        if free <= 0:
            return
        waiting = self._waiting_builds()
        select = getattr(self.dispatcher, "select", None)  # a node pool leases nodes by label
        started: list[tuple[ItemState, BuildState]] = []
        for item, name in select(waiting) if select is not None else waiting[:free]:
            build = item.builds[name]
            build.state = st.RUNNING
            build.start_time = time.time()
            self._dispatched += 1
            self._served[_share(item)] = self._dispatched
            self.event_to_start.append(max(0.0, build.start_time - item.enqueue_time))
            started.append((item, build))
        if not started:
            return
        for item, build in started:
            order = BuildOrder(
                item=item,
                build=build,
                source=Path(item.source) if item.source else None,
                ref=item.checkout,
                projects=dict(item.projects),
            )
            self.orders[build.uuid] = order
            self._spawn(self._run(order), f"build-{build.uuid}")
        # One transaction for the whole pass. The builds do not wait for it: it reaches the
        # (single, first-in first-out) database thread before anything they write.
        await self.records.builds_started(started)

    async def _run(self, order: BuildOrder) -> None:
        item, build = order.item, order.build
        try:
            record = await self.dispatcher.run(order)
        except Exception as exc:  # the dispatcher failed to run it at all: infrastructure
            log.exception("build %s could not run", build.uuid)
            now = time.time()
            record = BuildRecord(
                uuid=build.uuid,
                job=build.job.name,
                result=Result.ERROR,
                voting=build.job.voting,
                start_time=build.start_time or now,
                end_time=now,
                reason=f"could not run: {exc}",
            )
        finally:
            self.orders.pop(build.uuid, None)
        if self._stopping and record.result is Result.ABORTED:
            # Shutting down: leave the build running in the store so a restart runs it again.
            return
        await self._finish_build(item, build, record)

    async def _finish_build(self, item: ItemState, build: BuildState, record: BuildRecord) -> None:
        build.state = st.DONE
        build.result = record.result
        build.end_time = record.end_time or time.time()
        build.attempts = len(record.attempts)
        build.reason = record.reason
        build.node = build.node or (record.attempts[-1].node if record.attempts else None)
        build.failed_tests = [
            {"name": t.full_name, "status": str(t.status), "output_head": _head(t.output or t.message)}
            for t in record.tests
            if t.status in (TestStatus.FAILED, TestStatus.ERROR)
        ]
        self.results_count[str(record.result)] = self.results_count.get(str(record.result), 0) + 1
        if record.result is Result.SUCCESS:
            self.estimates[(item.project, build.job.name)] = record.duration
        if self.on_build_done:
            self.on_build_done(record)
        if not item.live or item.builds.get(build.job.name) is not build:
            # dequeued or superseded while it ran, or (gate) its speculative state was replaced
            await self.records.build_done(item, build, record, [], False, [])
            return
        skipped = self._skip_dependents(item)
        closing, reports = False, []
        if item.queue is not None:
            pass  # gate: the queue decides (scheduler/gate.py)
        elif all(b.state == st.DONE for b in item.builds.values()):
            result = buildset_result(item)
            slot = {Result.SUCCESS: "success", Result.FAILURE: "failure", Result.ERROR: "error"}.get(
                result, ""
            )
            closing, reports = True, self._close_state(item, result, "", slot)
        await self.records.build_done(item, build, record, skipped, closing, reports)
        if closing:
            self.items.pop(item.uuid, None)
        self.wake()

    def _skip_dependents(self, item: ItemState) -> list[BuildState]:
        assert item.graph is not None
        skipped: list[BuildState] = []
        while True:
            skip = item.graph.to_skip(item.done_results())
            if not skip:
                return skipped
            for name, why in skip.items():
                build = item.builds[name]
                build.state, build.result, build.reason = st.DONE, Result.SKIPPED, why
                build.end_time = time.time()
                skipped.append(build)

    # -- closing items and reporting --------------------------------------

    def _close_state(
        self, item: ItemState, result: Result | str, message: str, slot: str
    ) -> list[QueuedReport]:
        item.buildset_uuid = item.buildset_uuid or uuidlib.uuid4().hex
        item.state = st.COMPLETED
        item.result = str(result)
        item.message = message
        return self._reports(item, slot, str(result)) if slot else []

    async def _close(self, item: ItemState, result: Result | str, message: str, slot: str) -> None:
        reports = self._close_state(item, result, message, slot)
        await self.records.item_closed(item, [], reports)
        self.items.pop(item.uuid, None)

    def stop_builds(self, item: ItemState, why: str) -> list[BuildState]:
        """Cancel the item's running builds; its waiting ones end ABORTED (returned, to record)."""
        aborted = []
        for build in item.builds.values():
            if build.state == st.RUNNING and build.uuid in self.orders:
                self.orders[build.uuid].cancel.set()
            elif build.state == st.WAITING:
                build.state, build.result, build.reason = st.DONE, Result.ABORTED, why
                aborted.append(build)
        return aborted

    async def _close_aborted(self, item: ItemState, new_state: str, message: str) -> None:
        aborted = self.stop_builds(item, message)
        item.state = new_state
        item.result = str(Result.ABORTED)
        item.message = message
        await self.records.item_closed(item, aborted, self._reports(item, "dequeue", str(Result.ABORTED)))
        self.items.pop(item.uuid, None)

    def _has_reporters(self, item: ItemState, slot: str) -> bool:
        pipeline = self.config.pipelines.get(item.pipeline)
        return bool(pipeline and pipeline.reporters.get(slot))

    def _reports(self, item: ItemState, slot: str, result: str | None) -> list[QueuedReport]:
        pipeline = self.config.pipelines.get(item.pipeline)
        reporters = (pipeline.reporters.get(slot) if pipeline else None) or {}
        if not reporters or item.only_jobs is not None or item.probe_of is not None:
            # a culprit search reports its verdict only; a gate's probe, through its items
            return []
        report = self.make_report(item, slot, result)
        return [(connection, slot, report, dict(options or {})) for connection, options in reporters.items()]

    def make_report(self, item: ItemState, slot: str, result: str | None) -> Report:
        builds = [
            BuildReport(
                job=name,
                uuid=b.uuid,
                result=str(b.result) if b.result else "",
                voting=b.job.voting,
                duration=round((b.end_time or 0) - (b.start_time or b.end_time or 0), 1),
                log_url=b.log_url,
                attempts=b.attempts,
                reason=b.reason,
                failed_tests=[FailedTest(**t) for t in b.failed_tests],
            )
            for name, b in item.builds.items()
        ]
        return Report(
            slot=slot,
            pipeline=item.pipeline,
            project=item.project,
            branch=item.branch,
            ref=item.ref,
            newrev=item.newrev,
            change=item.change,
            patchset=item.patchset,
            author=item.author,
            item_uuid=item.uuid,
            buildset_uuid=item.buildset_uuid,
            result=result,
            status_url=f"{self.base_url}/",
            builds=builds,
            message=item.message,
        )


def _share(item: ItemState) -> str:
    """Who a build's turn in the fair share belongs to: its project, or its shared gate queue."""
    return f"queue:{item.queue}" if item.queue is not None else item.project


def _older_patchset(old: str | None, new: str | None) -> bool:
    """Whether `old` is an earlier patchset than `new`: by number for Gerrit; GitHub and GitLab
    name a change's patchsets by their head commit, and then any other one is older (the
    events of one change arrive in order)."""
    if not old or not new:
        return False
    if old.isdigit() and new.isdigit():
        return int(old) < int(new)
    return old != new


def _head(text: str, lines: int = FAILED_TEST_HEAD_LINES) -> str:
    return "\n".join((text or "").splitlines()[:lines])[:4000]
