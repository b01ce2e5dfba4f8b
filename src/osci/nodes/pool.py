"""The node pool: the scheduler's Dispatcher over every provider's nodes.

- `select(waiting)` (called by the scheduler with the waiting builds in fair order) leases each
  build all the nodes its nodeset asks for (label + required capabilities) or none of them, in one
  step under one lock: no build ever holds some nodes while waiting for others, so multi-node
  jobs cannot deadlock.
- `run(order)` runs the build with the shared executor in a worker thread; each attempt runs on
  the leased nodes through their provider. A node failure (NodeFailure) ends the attempt as ERROR,
  takes the node out (offline; quarantined after `quarantine-after` consecutive failures), gives
  back the other nodes and leases a full set again for the next attempt, ahead of new builds.
- Offline nodes are probed every `probe-interval` seconds and come back when they answer.
- When more than `halt-above` of a label's nodes are offline or quarantined, the label is halted:
  nothing more is dispatched to it until enough nodes recover or an admin resumes it.

Every state change is a node event, persisted through `record` (the server writes it to the
store). Admins hear of quarantines and halts through `notify` (logged at WARNING and stored as
node events; see docs/server.md "Nodes and providers").
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from osci.config.providers import ProviderSpec
from osci.executor import BuildRequest, run_build
from osci.executor.attempt import AttemptSetup
from osci.model import Attempt, BuildRecord, NodeRequest, Result, SourceLocation
from osci.nodes import model as nm
from osci.nodes.model import Node
from osci.nodes.providers import NodeFailure, Provider, make_provider
from osci.nodes.providers.base import Lease
from osci.scheduler.ports import BuildOrder

log = logging.getLogger("osci.nodes")

DEFAULT_LABEL_REQUEST = NodeRequest(name="node", label=nm.ANY_LABEL)
_NOWHERE = SourceLocation("(default)", 0)
# record(node dict, event type, detail): persist the node's state and one event
RecordFn = Callable[[dict[str, Any], str, str], Awaitable[None]]
# notify(message, the providers concerned): tell their admins
NotifyFn = Callable[[str, list[ProviderSpec]], Awaitable[None]]


@dataclass
class Autohold:
    project: str
    job: str
    count: int = 1
    reason: str = ""
    held: list[str] = field(default_factory=list)  # builds whose node was held
    id: int | None = None  # its row in the store


class NodePool:
    def __init__(
        self,
        providers: list[Provider],
        build_dir: Callable[[str], Path],
        workspace_root: Path | None = None,
        record: RecordFn | None = None,
        notify: NotifyFn | None = None,
    ) -> None:
        self.providers = {p.name: p for p in providers}
        self.build_dir = build_dir
        self.workspace_root = workspace_root
        self.record = record
        self.notify = notify
        self.nodes: dict[str, Node] = {}
        for provider in providers:
            provider.attach(self)
            for node in provider.nodes():
                self.nodes[node.name] = node
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._leases: dict[str, Lease] = {}  # build uuid -> leased, not yet running or running
        self._unservable: dict[str, str] = {}  # build uuid -> why no node can ever run it
        self._waiters: list[tuple[str, list[NodeRequest]]] = []  # retries waiting for nodes, FIFO
        self.halted: dict[str, str] = {}  # label -> why
        self._resumed: set[str] = set()  # labels an admin resumed while still over the threshold
        self.autoholds: list[Autohold] = []
        self.on_autohold: Callable[[int, str], Awaitable[None]] | None = None  # (autohold id, build)
        # one thread per running build; agents add slots as they register (threads start lazily)
        slots = sum(n.slots for n in self.nodes.values())
        self._threads = ThreadPoolExecutor(max_workers=max(slots + 4, 256), thread_name_prefix="osci-node")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._verdicts: dict[int, tuple[Any, int, list[NodeRequest], str | None]] = {}
        self._generation = 0  # bumped when nodes come or go (cached verdicts are then stale)
        self._stored: dict[str, str] = {}  # admin states stored before a restart, of nodes not seen yet
        self._probe_task: asyncio.Task | None = None
        self.running = 0

    @classmethod
    def from_specs(cls, specs: list[ProviderSpec], slots: int | None = None, **kwargs: Any) -> NodePool:
        """The configured providers; without a `local` one, a local pool of `slots` slots runs the
        jobs without a nodeset (and, when no provider is configured at all, every job)."""
        providers = [make_provider(spec) for spec in specs]
        if not any(spec.driver == "local" for spec in specs):
            local = ProviderSpec(name="local", driver="local", location=_NOWHERE, slots=slots)
            providers.insert(0, make_provider(local, any_label=not specs))
        return cls(providers, **kwargs)

    # -- life cycle ---------------------------------------------------------------------------

    async def start(self, stored: dict[str, str] | None = None) -> None:
        """Start probing; `stored` (node name -> state) restores what admins set before a restart."""
        self._loop = asyncio.get_running_loop()
        self._stored = dict(stored or {})
        for node in self.nodes.values():
            self._restore_admin_state(node)
            self._emit(node, "registered", f"provider {node.provider}, state {node.state}")
        for label in self.labels():
            self._check_halt(label)
        for provider in self.providers.values():
            await provider.start()
        self._probe_task = asyncio.create_task(self._probe_loop(), name="osci-node-probe")

    def _restore_admin_state(self, node: Node) -> None:
        """What an admin set before a restart (maintenance, held, quarantined) holds again; for
        agents, when they register again."""
        before = self._stored.pop(node.name, None)
        if before in (nm.MAINTENANCE, nm.HELD, nm.QUARANTINED):
            node.state = before
            node.detail = f"{before} before the restart"

    def close(self) -> None:
        if self._probe_task is not None:
            self._probe_task.cancel()
        with self._lock:
            self._changed.notify_all()
        self._threads.shutdown(wait=True, cancel_futures=True)
        for provider in self.providers.values():
            with contextlib.suppress(Exception):
                provider.close()

    def labels(self) -> list[str]:
        return sorted({n.label for n in self.nodes.values() if n.label not in (None, nm.ANY_LABEL)})

    # -- the Dispatcher port ------------------------------------------------------------------

    def free_slots(self) -> int:
        with self._lock:
            free = sum(n.free for n in self.nodes.values())
            if free or any(n.label is None for n in self.nodes.values()):
                return free  # a pool serving every label never has a build no node can run
            return 1  # `select` also hands out builds no node can ever run (they end as ERROR)

    def select(self, waiting: list[tuple[Any, str]]) -> list[tuple[Any, str]]:
        """The waiting builds (in the scheduler's fair order) to start now, each with its nodes
        leased: all the nodes of its nodeset, or it waits."""
        chosen = []
        with self._lock:
            waiting_labels = {r.label for _, requests in self._waiters for r in requests}
            # labels a multi-node build waits for: builds behind it do not take their nodes, so a
            # stream of single-node builds cannot starve it (nodes go in order, as in nodepool)
            blocked: set[str] = set()
            free = sum(n.free for n in self.nodes.values())
            unmatched: set[tuple[tuple[str | None, tuple[str, ...]], ...]] = set()  # found no nodes
            for item, name in waiting:
                build = item.builds[name]
                if build.uuid in self._leases or build.uuid in self._unservable:
                    chosen.append((item, name))
                    continue
                requests, verdict = self._verdict(build.job)
                if verdict is not None:
                    self._unservable[build.uuid] = verdict
                    chosen.append((item, name))
                    continue
                if free <= 0:
                    continue  # thousands of waiting builds and no free node: nothing to look for
                if any(self._halted_for(r) for r in requests):
                    continue
                if any(r.label in waiting_labels or r.label in blocked for r in requests):
                    continue  # retries of builds that lost their node, and multi-node builds, go first
                wanted = tuple((r.label, tuple(r.requires)) for r in requests)
                if wanted in unmatched:
                    continue  # nodes only get busier during one selection: no need to look again
                nodes = self._find(requests)
                if nodes is None:
                    unmatched.add(wanted)
                    if len(requests) > 1:
                        blocked.update(r.label for r in requests)
                    continue
                self._lease(build.uuid, requests, nodes)
                free -= len(nodes)
                chosen.append((item, name))
        return chosen

    async def run(self, order: BuildOrder) -> BuildRecord:
        item, build = order.item, order.build
        with self._lock:
            reason = self._unservable.pop(build.uuid, None)
            lease = self._leases.get(build.uuid)
            if lease is None and reason is None:
                requests = self._requests(build.job)
                nodes = self._find(requests)
                if nodes is None:
                    reason = "no node is free for " + ", ".join(_describe(r) for r in requests)
                else:
                    lease = self._lease(build.uuid, requests, nodes)
        if reason is not None:
            raise RuntimeError(reason)
        assert lease is not None
        build.node = lease.primary.name
        request = BuildRequest(
            job=build.job,
            build_dir=self.build_dir(build.uuid),
            source=order.source or Path("."),
            ref=order.ref,
            projects=dict(order.projects),
            project=item.project,
            branch=item.branch,
            change=item.change,
            uuid=build.uuid,
            workspace_root=self.workspace_root,
        )
        runner = _AttemptRunner(self, build.uuid, self._requests(build.job), order)
        self.running += 1
        try:
            loop = asyncio.get_running_loop()
            record = await loop.run_in_executor(
                self._threads, run_build, request, order.cancel, order.on_output, runner
            )
        finally:
            self.running -= 1
            self._finish(build.uuid, item.project, build.job.name, runner)
        if record.result in (Result.FAILURE, Result.TIMED_OUT) and runner.held:
            record.extra["held_nodes"] = runner.held
        return record

    # -- leasing ------------------------------------------------------------------------------

    def _requests(self, job: Any) -> list[NodeRequest]:
        nodes = list(job.nodeset.nodes) if job is not None and job.nodeset else []
        return nodes or [DEFAULT_LABEL_REQUEST]

    def _halted_for(self, request: NodeRequest) -> bool:
        return request.label in self.halted

    def _verdict(self, job: Any) -> tuple[list[NodeRequest], str | None]:
        """A job's node requests and why no node can ever run them (None: some can), kept per
        job object until the nodes change: `select` sees every waiting build on every pass."""
        cached = self._verdicts.get(id(job))
        if cached is not None and cached[0] is job and cached[1] == self._generation:
            return cached[2], cached[3]
        requests = self._requests(job)
        verdict = self._never(requests)
        if len(self._verdicts) > 20000:
            self._verdicts.clear()
        self._verdicts[id(job)] = (job, self._generation, requests, verdict)
        return requests, verdict

    def _never(self, requests: list[NodeRequest]) -> str | None:
        """Why no node can ever run this nodeset, or None."""
        never = [r for r in requests if not self._may_be_served(r)]
        if never:
            return "no provider has a node for " + ", ".join(_describe(r) for r in never)
        return self._too_few(requests)

    def _may_be_served(self, request: NodeRequest) -> bool:
        return any(n.serves(request) for n in self.nodes.values()) or any(
            p.could_serve(request) for p in self.providers.values()
        )

    def _too_few(self, requests: list[NodeRequest]) -> str | None:
        """Why the providers can never give a nodeset all its nodes at once, or None."""
        for label in {r.label for r in requests}:
            wanted = [r for r in requests if r.label == label]
            if any(p.could_serve(wanted[0]) for p in self.providers.values()):
                continue  # more agents may register
            have = sum(n.slots for n in self.nodes.values() if any(n.serves(r) for r in wanted))
            if have < len(wanted):
                return f"the nodeset needs {len(wanted)} nodes for {_describe(wanted[0])}; the providers have {have}"
        return None

    def _find(self, requests: list[NodeRequest]) -> list[Node] | None:
        """Nodes for every request (one slot each), or None; the most constrained request first."""
        taken: dict[str, int] = {}
        found: dict[int, Node] = {}
        order = sorted(range(len(requests)), key=lambda i: (-len(requests[i].requires), i))
        for index in order:
            request = requests[index]
            candidates = [
                n for n in self.nodes.values() if n.serves(request) and n.free - taken.get(n.name, 0) > 0
            ]
            if not candidates:
                return None
            node = min(candidates, key=lambda n: (len(n.capabilities), n.used + taken.get(n.name, 0), n.name))
            taken[node.name] = taken.get(node.name, 0) + 1
            found[index] = node
        return [found[i] for i in range(len(requests))]

    def _lease(self, build: str, requests: list[NodeRequest], nodes: list[Node]) -> Lease:
        for node in nodes:
            node.used += 1
            node.builds.append(build)
        lease = Lease(build=build, nodes=nodes, roles=[r.name for r in requests], note=self._emit)
        self._leases[build] = lease
        for node in dict.fromkeys(nodes):
            if node.log_leases:
                self._emit(node, "leased", f"build {build}")
        return lease

    def _give_back(self, build: str, hold: bool = False, why: str = "") -> list[Node]:
        """Return a build's nodes; with `hold`, they are kept (held) for debugging instead."""
        lease = self._leases.pop(build, None)
        if lease is None:
            return []
        for node in dict.fromkeys(lease.nodes):
            node.used = max(0, node.used - lease.nodes.count(node))
            with contextlib.suppress(ValueError):
                node.builds.remove(build)
            if hold and node.state == nm.READY:
                node.state, node.detail = nm.HELD, why
                self._emit(node, "held", why)
            elif node.log_leases:
                self._emit(node, "released", f"build {build}")
        self._changed.notify_all()
        return lease.nodes

    def reacquire(
        self, build: str, requests: list[NodeRequest], cancel: threading.Event | None
    ) -> Lease | None:
        """Block (in a build thread) until a full set of nodes is leased again; None if cancelled."""
        entry = (build, requests)
        with self._lock:
            self._waiters.append(entry)
            try:
                while not (cancel is not None and cancel.is_set()):
                    if self._my_turn(entry) and not any(self._halted_for(r) for r in requests):
                        nodes = self._find(requests)
                        if nodes is not None:
                            return self._lease(build, requests, nodes)
                    self._changed.wait(0.5)
                return None
            finally:
                self._waiters.remove(entry)
                self._changed.notify_all()
                self._wake_scheduler()

    def _my_turn(self, entry: tuple[str, list[NodeRequest]]) -> bool:
        """The first waiter for its labels leases first."""
        labels = {r.label for r in entry[1]}
        for other in self._waiters:
            if other is entry:
                return True
            if labels & {r.label for r in other[1]}:
                return False
        return True

    def _finish(self, build: str, project: str, job: str, runner: _AttemptRunner) -> None:
        with self._lock:
            hold = self._autohold_for(project, job, build) if runner.failed else None
            nodes = self._give_back(build, hold=hold is not None, why=hold or "")
            if hold is not None:
                runner.held = [f"{n.name} ({n.address})" for n in nodes]
            for node in nodes:
                self._check_halt(node.label)

    # -- node health --------------------------------------------------------------------------

    def node_failed(self, failure: NodeFailure) -> None:
        with self._lock:
            node = self.nodes.get(failure.node)
            if node is None:
                return
            node.failures += 1
            quarantine_after = self._provider_spec(node).quarantine_after
            if failure.quarantine or node.failures >= quarantine_after:
                node.state = nm.QUARANTINED
                node.detail = f"{node.failures} consecutive infrastructure error(s); last: {failure.reason}"
                self._emit(node, "quarantined", node.detail)
                self._tell_admins(f"node {node.name} quarantined: {node.detail}", [node])
            else:
                node.state = nm.OFFLINE
                node.detail = failure.reason
                self._emit(node, "offline", failure.reason)
            self._check_halt(node.label)
            self._changed.notify_all()

    def node_worked(self, names: list[str]) -> None:
        with self._lock:
            for name in names:
                node = self.nodes.get(name)
                if node is not None:
                    node.failures = 0

    # -- nodes that come and go (agents) ------------------------------------------------------

    def add_node(self, node: Node, detail: str = "") -> None:
        """A node registers (again): a known node keeps its admin state and its builds."""
        with self._lock:
            self._generation += 1
            known = self.nodes.get(node.name)
            if known is None:
                self.nodes[node.name] = node
                self._restore_admin_state(node)
                self._emit(node, "registered", detail)
            else:
                known.label, known.capabilities, known.address = node.label, node.capabilities, node.address
                known.slots, known.draining = node.slots, False
                if known.state == nm.OFFLINE:
                    known.state, known.detail = nm.READY, ""
                self._emit(known, "registered", detail)
            self._check_halt(node.label)
            self._changed.notify_all()
        self._wake_scheduler()

    def remove_node(self, name: str, why: str) -> None:
        """A node leaves for good (an agent stopped cleanly); one still running builds stays, offline."""
        with self._lock:
            node = self.nodes.get(name)
            if node is None:
                return
            self._generation += 1
            if node.used:
                node.state, node.detail = nm.OFFLINE, why
                self._emit(node, "offline", why)
            else:
                del self.nodes[name]
                node.state, node.detail = nm.OFFLINE, why
                self._emit(node, "deregistered", why)
            self._check_halt(node.label)
            self._changed.notify_all()
        self._wake_scheduler()

    def drain_node(self, name: str, why: str) -> None:
        """No new builds for the node; those it runs go on."""
        with self._lock:
            node = self.nodes.get(name)
            if node is not None:
                node.draining = True
                node.detail = why
                self._emit(node, "draining", why)

    def node_offline(self, name: str, why: str) -> None:
        """The node stopped answering while idle: out of service, not counted as a failure."""
        with self._lock:
            node = self.nodes.get(name)
            if node is not None and node.state == nm.READY:
                node.state, node.detail = nm.OFFLINE, why
                self._emit(node, "offline", why)
                self._check_halt(node.label)

    def node_back(self, name: str, why: str) -> None:
        """An offline node answers again (an agent polls): ready at once, without waiting for a probe."""
        with self._lock:
            node = self.nodes.get(name)
            if node is None or node.state != nm.OFFLINE:
                return
            self._recovered(node, why)
        self._wake_scheduler()

    def _recovered(self, node: Node, why: str) -> None:
        node.state, node.detail = nm.READY, ""
        self._emit(node, "recovered", why)
        self._check_halt(node.label)
        self._changed.notify_all()

    def _provider_spec(self, node: Node) -> ProviderSpec:
        return self.providers[node.provider].spec

    def _check_halt(self, label: str | None) -> None:
        if label is None or label == nm.ANY_LABEL:
            return
        nodes = [n for n in self.nodes.values() if n.label == label]
        if not nodes:
            return
        failed = [n for n in nodes if n.state in nm.FAILED]
        share = len(failed) / len(nodes)
        limit = min(self._provider_spec(n).halt_above for n in nodes)
        if share > limit and label not in self.halted and label not in self._resumed:
            why = f"{len(failed)} of {len(nodes)} nodes out of service (more than {limit:.0%})"
            self.halted[label] = why
            log.warning("label %s halted: %s", label, why)
            for node in nodes:
                self._emit(node, "label-halted", why)
            self._tell_admins(f"dispatching for label {label} halted: {why}", nodes)
        elif share <= limit:
            self._resumed.discard(label)
            if label in self.halted:
                del self.halted[label]
                log.warning("label %s resumed: %d of %d nodes out of service", label, len(failed), len(nodes))
                for node in nodes:
                    self._emit(node, "label-resumed", f"{len(failed)} of {len(nodes)} nodes out of service")
                self._wake_scheduler()

    async def _probe_loop(self) -> None:
        intervals = [p.spec.probe_interval for p in self.providers.values()] or [30.0]
        interval = max(0.1, min(intervals))
        while True:
            await asyncio.sleep(interval)
            with self._lock:
                offline = [n for n in self.nodes.values() if n.state == nm.OFFLINE]
            for node in offline:
                try:
                    problem = await self.providers[node.provider].probe(node)
                except Exception as exc:
                    problem = f"probe failed: {exc}"
                if problem is None:
                    with self._lock:
                        if node.state == nm.OFFLINE:
                            self._recovered(node, "the node answers again")
                    self._wake_scheduler()

    def _tell_admins(self, message: str, nodes: list[Node]) -> None:
        log.warning("admin: %s", message)
        if self.notify is None:
            return
        specs = list({id(spec): spec for spec in (self._provider_spec(n) for n in nodes)}.values())
        self._schedule(lambda: self.notify(message, specs), "telling the admins")  # type: ignore[misc]

    # -- admin actions ------------------------------------------------------------------------

    def admin(self, name: str, action: str, reason: str = "") -> Node:
        """hold | release | maintenance | quarantine a node. KeyError: no such node."""
        with self._lock:
            node = self.nodes[name]
            if action == "release":
                node.state, node.failures, node.detail = nm.READY, 0, ""
            else:
                node.state = {"hold": nm.HELD, "maintenance": nm.MAINTENANCE, "quarantine": nm.QUARANTINED}[
                    action
                ]
                node.detail = reason or f"{action} by an admin"
            self._emit(node, f"admin-{action}", reason or "")
            self._check_halt(node.label)
            self._changed.notify_all()
        self._wake_scheduler()
        return node

    def resume(self, label: str) -> bool:
        """An admin resumes a halted label (until it is healthy again and may halt again)."""
        with self._lock:
            if label not in self.halted:
                return False
            del self.halted[label]
            self._resumed.add(label)
            for node in self.nodes.values():
                if node.label == label:
                    self._emit(node, "label-resumed", "resumed by an admin")
        self._wake_scheduler()
        return True

    def add_autohold(
        self, project: str, job: str, count: int = 1, reason: str = "", id: int | None = None,
        held: list[str] | None = None,
    ) -> Autohold:  # fmt: skip
        hold = Autohold(project, job, max(1, count), reason, list(held or []), id)
        with self._lock:
            self.autoholds.append(hold)
        return hold

    def _autohold_for(self, project: str, job: str, build: str) -> str | None:
        for hold in self.autoholds:
            if hold.project == project and hold.job == job and len(hold.held) < hold.count:
                hold.held.append(build)
                if self.on_autohold is not None and hold.id is not None:
                    record = functools.partial(self.on_autohold, hold.id, build)
                    self._schedule(record, "recording an autohold")
                if len(hold.held) >= hold.count:
                    self.autoholds.remove(hold)
                return f"autohold: build {build} of {project} {job} failed" + (
                    f" ({hold.reason})" if hold.reason else ""
                )
        return None

    # -- views --------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "nodes": [n.to_dict() for n in sorted(self.nodes.values(), key=lambda n: n.name)],
                "halted": dict(self.halted),
                "autoholds": [
                    {
                        "project": h.project,
                        "job": h.job,
                        "count": h.count,
                        "held": list(h.held),
                        "reason": h.reason,
                    }
                    for h in self.autoholds
                ],
            }

    # -- plumbing -----------------------------------------------------------------------------

    def _emit(self, node: Node, event: str, detail: str) -> None:
        if self.record is not None:
            data, record = node.to_dict(), self.record
            self._schedule(lambda: record(data, event, detail), "recording a node event")

    def _schedule(self, make: Callable[[], Awaitable[None]], what: str) -> None:
        """Run a coroutine on the server's loop, from the loop or from a build's thread."""
        if self._loop is None:
            return

        def start() -> None:
            task = asyncio.ensure_future(make())
            task.add_done_callback(lambda t: _log_failure(t, what))

        if _in_loop(self._loop):
            start()
        else:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(start)

    def _wake_scheduler(self) -> None:
        callback = getattr(self, "on_change", None)
        if callback is None or self._loop is None:
            return
        if _in_loop(self._loop):
            callback()
        else:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(callback)


class _AttemptRunner:
    """Runs each attempt of one build on its leased nodes (called in the build's thread)."""

    def __init__(self, pool: NodePool, build: str, requests: list[NodeRequest], order: BuildOrder) -> None:
        self.pool = pool
        self.build = build
        self.requests = requests
        self.order = order
        self.failed = False
        self.held: list[str] = []

    def __call__(self, setup: AttemptSetup) -> Attempt:
        start = time.time()
        with self.pool._lock:
            lease = self.pool._leases.get(self.build)
        if lease is None:
            setup.console.note("osci: waiting for node(s) to retry on")
            lease = self.pool.reacquire(self.build, self.requests, setup.cancel)
            if lease is None:
                return Attempt(
                    setup.number, Result.ABORTED, start, time.time(), reason="cancelled waiting for a node"
                )
        names = [n.name for n in lease.nodes]
        setup.console.note(f"osci: attempt {setup.number} on node(s) {', '.join(names)}")
        provider = self.pool.providers[lease.primary.provider]
        try:
            attempt = provider.run_attempt(lease, setup)
        except NodeFailure as failure:
            setup.console.note(
                f"osci: node {failure.node}: {failure.reason} (infrastructure error: retried elsewhere)"
            )
            self.pool.node_failed(failure)
            with self.pool._lock:
                self.pool._give_back(self.build)
            attempt = Attempt(
                setup.number,
                Result.ERROR,
                start,
                time.time(),
                reason=f"node {failure.node}: {failure.reason}",
            )
        else:
            self.pool.node_worked(names)
            self.failed = attempt.result in (Result.FAILURE, Result.TIMED_OUT)
        attempt.node = ",".join(dict.fromkeys(names))
        return attempt


def _describe(request: NodeRequest) -> str:
    caps = f" providing {', '.join(request.requires)}" if request.requires else ""
    if request.label == nm.ANY_LABEL:
        return f"a job without a nodeset{caps} (only local providers run those)"
    return f"label '{request.label}'{caps}"


def _in_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def _log_failure(task: asyncio.Future, what: str) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("%s failed", what, exc_info=task.exception())
