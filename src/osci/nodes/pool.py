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
- `reconfigure(specs)` applies a reloaded configuration's providers: new ones start, removed ones
  (and nodes a changed one no longer lists) leave once their running builds are done, changed
  ones take their new settings; a build finishes with the provider object it was leased under.

Every state change is a node event, persisted through `record` (the server writes it to the
store). Admins hear of quarantines and halts through `notify` (logged at WARNING and stored as
node events; see docs/server.md "Nodes and providers").
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
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
# settings a reload cannot change (NodePool.refused): the server must be restarted for them
FIXED = {"container": ("engine",)}  # its containers are removed by the engine that started them


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
        self.default_slots: int | None = None  # the implicit local provider's (`--slots`)
        self._options: dict[str, dict[str, Any]] = {}  # provider name -> what it was made with
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
        # a reload (reconfigure): nodes leaving once their builds are done (name -> the provider
        # object that runs them, why), new nodes waiting for a leaving namesake, the provider each
        # lease runs on (builds finish under the provider they started with), replaced providers
        self._leaving: dict[str, tuple[Provider, str]] = {}
        self._pending: dict[str, Node] = {}
        self._ran_by: dict[str, Provider] = {}
        self._retired: list[Provider] = []
        self._reconfiguring = False  # labels are judged (halted or not) once the reload is applied

    @classmethod
    def from_specs(cls, specs: list[ProviderSpec], slots: int | None = None, **kwargs: Any) -> NodePool:
        """The configured providers; without a `local` one, a local pool of `slots` slots runs the
        jobs without a nodeset (and, when no provider is configured at all, every job)."""
        wanted = _wanted(specs, slots)
        pool = cls([make_provider(spec, **options) for spec, options in wanted], **kwargs)
        pool.default_slots = slots
        pool._options = {spec.name: options for spec, options in wanted}
        return pool

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
        for provider in [*self.providers.values(), *self._retired]:
            with contextlib.suppress(Exception):
                provider.close()

    def labels(self) -> list[str]:
        return sorted({n.label for n in self.nodes.values() if n.label not in (None, nm.ANY_LABEL)})

    def serving(self) -> list[Provider]:
        """The configured providers, then removed ones still finishing builds."""
        with self._lock:
            live = list(self.providers.values())
            return [*live, *(p for p in self._retired if not any(p is q for q in live))]

    # -- a reload -----------------------------------------------------------------------------

    def refused(self, specs: list[ProviderSpec]) -> list[tuple[ProviderSpec, str]]:
        """The changes a reload cannot make (then it changes nothing), with their provider."""
        problems = []
        for spec in specs:
            current = self.providers.get(spec.name)
            if current is None or current.spec.driver != spec.driver:
                continue
            for key in FIXED.get(spec.driver, ()):
                if getattr(current.spec, key.replace("-", "_")) != getattr(spec, key.replace("-", "_")):
                    problems.append(
                        (spec, f"provider '{spec.name}': '{key}' cannot change while the server runs; "
                               "restart the server (or give the provider a new name)")
                    )  # fmt: skip
        return problems

    async def reconfigure(self, specs: list[ProviderSpec]) -> list[str]:
        """Apply a reloaded configuration's providers (on the server's loop); what changed, in
        words. A provider whose driver changed is removed and added again. Labels are judged
        (halted or not) once all of it is applied, not half-way."""
        started: list[Provider] = []
        with self._lock:
            labels = set(self.labels())
            self._reconfiguring = True
            try:
                changes = self._apply(_wanted(specs, self.default_slots), started)
            finally:
                self._reconfiguring = False
            self._generation += 1
            slots = sum(n.slots for n in self.nodes.values())
            if slots + 4 > self._threads._max_workers:  # one thread per running build (started lazily)
                self._threads._max_workers = slots + 4
            for label in sorted(labels | set(self.labels()) | set(self.halted)):
                self._check_halt(label)
            self._release_retired()
            self._changed.notify_all()
        for provider in started:
            await provider.start()
        self._wake_scheduler()
        return changes

    def _apply(self, wanted: list[tuple[ProviderSpec, dict[str, Any]]], started: list[Provider]) -> list[str]:
        names = {spec.name: spec for spec, _ in wanted}
        gone = [
            p
            for name, p in self.providers.items()
            if name not in names or names[name].driver != p.spec.driver
        ]
        removed = [self._remove_provider(p) for p in gone]
        added, changes = [], []
        for spec, options in wanted:
            current = self.providers.get(spec.name)
            if current is not None:
                parts = self._change_provider(current, spec, options)
                if parts:
                    changes.append(f"{spec.name}: {', '.join(parts)}")
                continue
            provider = make_provider(spec, **options)
            provider.attach(self)
            self.providers[spec.name] = provider
            self._options[spec.name] = options
            joined = [
                self._join(node, f"provider {spec.name} added by a reload") for node in provider.nodes()
            ]
            added.append(spec.name + (f" ({', '.join(j for j in joined if j)})" if any(joined) else ""))
            started.append(provider)
        if added or removed:
            changes.insert(
                0, "providers: " + ", ".join([*(f"+{a}" for a in added), *(f"-{r}" for r in removed)])
            )
        return changes

    def _remove_provider(self, provider: Provider) -> str:
        """Its idle nodes leave now, the others once their builds are done; it takes no more."""
        why = f"provider {provider.name} removed by a reload"
        mine = [n for n in self.nodes.values() if n.provider == provider.name and n.name not in self._leaving]
        del self.providers[provider.name]
        self._options.pop(provider.name, None)
        self._retired.append(provider)
        provider.reconfigure(None)
        for name in [n for n, node in self._pending.items() if node.provider == provider.name]:
            del self._pending[name]
        draining = [node.name for node in mine if self._let_go(node, provider, why)]
        return provider.name + (f" ({', '.join(draining)} draining)" if draining else "")

    def _change_provider(self, current: Provider, spec: ProviderSpec, options: dict[str, Any]) -> list[str]:
        """A provider of the same name and driver: its new settings; what changed."""
        name = spec.name
        settings, items = _spec_changes(current.spec, spec)
        respecified = items | {f"{name}:{item}" for item in items}  # static hosts, container labels
        if dataclasses.replace(
            spec, location=current.spec.location
        ) == current.spec and options == self._options.get(name, {}):
            current.spec = spec  # only where it is written moved
            return []
        fresh = current.reconfigure(spec, **options)
        if fresh is not current:
            fresh.attach(self)
            self.providers[name] = fresh
            self._retired.append(current)  # builds running on it finish there
        self._options[name] = options
        listed = {n.name: n for n in fresh.nodes()}
        parts: list[str] = []
        for node in [n for n in self.nodes.values() if n.provider == name]:
            stays = node.name in listed or fresh.keeps(node)
            leaving = self._leaving.get(node.name)
            if leaving is not None:
                # it was leaving (an earlier reload) and is wanted again: it stays, unless it
                # leaves a provider of another kind (an agent of a removed agent provider)
                if stays and (
                    leaving[0] is fresh or (leaving[0].spec.driver == spec.driver and node.name in listed)
                ):
                    del self._leaving[node.name]
                    if node.name in listed:
                        _update(node, listed[node.name])
                    node.draining, node.detail = False, ""
                    self._emit(node, "registered", f"kept by a reload (provider {name})")
                    parts.append(f"{node.name} stays")
                continue
            if not stays:
                why = f"removed from provider {name} by a reload"
                parts.append(f"-{node.name}" + (" (draining)" if self._let_go(node, current, why) else ""))
            elif node.name in listed and (_update(node, listed[node.name]) or node.name in respecified):
                self._emit(node, "updated", f"provider {name} changed by a reload")
                parts.append(f"~{node.name}")
        for node_name, node in list(self._pending.items()):
            if node.provider == name:
                if node_name in listed:
                    self._pending[node_name] = listed[node_name]
                else:
                    del self._pending[node_name]
        for node_name, node in listed.items():
            waiting, present = self._pending.get(node_name), self.nodes.get(node_name)
            if waiting is not None and waiting.provider == name:
                continue
            if present is not None and present.provider == name and node_name not in self._leaving:
                continue
            joined = self._join(node, f"added to provider {name} by a reload")
            parts.append(f"+{node_name}" + (f" ({joined})" if joined else ""))
        order = "+-~"  # added, removed, changed, then those a reload kept
        return settings + sorted(parts, key=lambda part: order.find(part[0]) % (len(order) + 1))

    def _join(self, node: Node, detail: str) -> str:
        """A node a reload adds (registered as at start); why it is not there yet, or ''."""
        other = self.nodes.get(node.name)
        if other is not None and node.name in self._leaving:
            self._pending[node.name] = node
            return f"after the builds of {node.name} on provider {other.provider}"
        if other is not None:
            log.warning(
                "node %s of provider %s: provider %s has a node of that name",
                node.name,
                node.provider,
                other.provider,
            )
            return f"not added: provider {other.provider} has a node of that name"
        self.nodes[node.name] = node
        self._restore_admin_state(node)
        self._emit(node, "registered", f"provider {node.provider}, state {node.state} ({detail})")
        return ""

    def _let_go(self, node: Node, owner: Provider, why: str) -> bool:
        """A node a reload removed: gone now when idle; else it drains (True) and leaves after."""
        self._leaving[node.name] = (owner, why)
        if not node.used:
            self._drop(node, why)
            return False
        node.draining, node.detail = True, why
        self._emit(node, "draining", f"{why}: leaves once its builds are done")
        return True

    def _drop(self, node: Node, why: str) -> None:
        """A leaving node leaves (under the lock); a new node of its name takes its place."""
        owner = self._leaving.pop(node.name)[0]
        del self.nodes[node.name]
        self._generation += 1
        if node.state in (nm.MAINTENANCE, nm.HELD, nm.QUARANTINED):
            self._stored[node.name] = node.state  # kept, should a reload bring the node back
        node.state, node.detail = nm.OFFLINE, why
        self._emit(node, "deregistered", why)
        with contextlib.suppress(Exception):
            owner.leave(node, why)
        waiting = self._pending.pop(node.name, None)
        if waiting is not None and waiting.provider in self.providers:
            self._join(
                waiting, f"provider {waiting.provider}, after {node.name} left provider {node.provider}"
            )
            self._check_halt(waiting.label)
        self._check_halt(node.label)
        self._changed.notify_all()
        self._wake_scheduler()

    def _release_retired(self) -> None:
        """Replaced or removed providers are closed once no build or node uses them."""
        for provider in list(self._retired):
            if provider in self._ran_by.values() or any(o is provider for o, _ in self._leaving.values()):
                continue
            self._retired.remove(provider)
            if self._loop is None:
                with contextlib.suppress(Exception):
                    provider.close()
            elif provider.blocking_close:
                self._loop.call_soon_threadsafe(lambda p=provider: self._loop.run_in_executor(None, p.close))
            else:
                self._loop.call_soon_threadsafe(provider.close)

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
        self._ran_by[build] = self._owner(lease.primary)
        for node in dict.fromkeys(nodes):
            if node.log_leases:
                self._emit(node, "leased", f"build {build}")
        return lease

    def _give_back(self, build: str, hold: bool = False, why: str = "") -> list[Node]:
        """Return a build's nodes; with `hold`, they are kept (held) for debugging instead."""
        lease = self._leases.pop(build, None)
        self._ran_by.pop(build, None)
        if lease is None:
            return []
        for node in dict.fromkeys(lease.nodes):
            node.used = max(0, node.used - lease.nodes.count(node))
            with contextlib.suppress(ValueError):
                node.builds.remove(build)
            if hold and node.state == nm.READY and node.name not in self._leaving:
                node.state, node.detail = nm.HELD, why
                self._emit(node, "held", why)
            elif node.log_leases:
                self._emit(node, "released", f"build {build}")
            if node.name in self._leaving and not node.used and self.nodes.get(node.name) is node:
                self._drop(node, self._leaving[node.name][1])
        self._release_retired()
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
                    never = self._never(requests)  # a reload removed the nodes it could run on
                    if never is not None:
                        raise NoNodes(never)
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
                known.slots, known.draining = node.slots, node.name in self._leaving
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
                self._leaving.pop(name, None)
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
        return self._owner(node).spec

    def _owner(self, node: Node) -> Provider:
        """The provider object serving a node now (one that leaves: the provider it leaves)."""
        leaving = self._leaving.get(node.name)
        return leaving[0] if leaving is not None else self.providers[node.provider]

    def _check_halt(self, label: str | None) -> None:
        if label is None or label == nm.ANY_LABEL or self._reconfiguring:
            return
        nodes = [n for n in self.nodes.values() if n.label == label]
        if not nodes:  # its last node left (a reload removed it, an agent stopped)
            self._resumed.discard(label)
            if self.halted.pop(label, None) is not None:
                log.warning("label %s resumed: it has no nodes any more", label)
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
        while True:
            intervals = [p.spec.probe_interval for p in self.providers.values()] or [30.0]
            await asyncio.sleep(max(0.1, min(intervals)))  # a reload may change them
            with self._lock:
                offline = [(n, self._owner(n)) for n in self.nodes.values() if n.state == nm.OFFLINE]
            for node, owner in offline:
                try:
                    problem = await owner.probe(node)
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
            try:
                lease = self.pool.reacquire(self.build, self.requests, setup.cancel)
            except NoNodes as exc:
                setup.console.note(f"osci: {exc}")
                return Attempt(setup.number, Result.ERROR, start, time.time(), reason=str(exc))
            if lease is None:
                return Attempt(
                    setup.number, Result.ABORTED, start, time.time(), reason="cancelled waiting for a node"
                )
        names = [n.name for n in lease.nodes]
        setup.console.note(f"osci: attempt {setup.number} on node(s) {', '.join(names)}")
        with self.pool._lock:
            provider = self.pool._ran_by.get(self.build) or self.pool._owner(lease.primary)
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


class NoNodes(Exception):
    """No node can ever run a retry's nodeset any more (a reload removed them)."""


def _wanted(specs: list[ProviderSpec], slots: int | None) -> list[tuple[ProviderSpec, dict[str, Any]]]:
    """The providers to run and the options each is made with: the configured ones; without a
    `local` one, a local pool of `slots` slots runs the jobs without a nodeset (and, when no
    provider is configured at all, every job)."""
    wanted: list[tuple[ProviderSpec, dict[str, Any]]] = [(spec, {}) for spec in specs]
    if not any(spec.driver == "local" for spec in specs):
        local = ProviderSpec(name="local", driver="local", location=_NOWHERE, slots=slots)
        wanted.insert(0, (local, {"any_label": not specs}))
    return wanted


def _spec_changes(old: ProviderSpec, new: ProviderSpec) -> tuple[list[str], set[str]]:
    """The settings that differ, in words, and the hosts and images whose settings differ (those
    added and removed show as the nodes that come and go)."""
    changes, items = [], set()
    for f in dataclasses.fields(ProviderSpec):
        if f.name in ("name", "driver", "location"):
            continue
        before, after = getattr(old, f.name), getattr(new, f.name)
        if before == after:
            continue
        key = f.name.replace("_", "-")
        if f.name in ("hosts", "images"):
            was = {_key(x): x for x in before}
            items |= {_key(x) for x in after if _key(x) in was and was[_key(x)] != x}
            if not items and {_key(x) for x in before} == {_key(x) for x in after}:
                changes.append(key)  # only their order
        elif isinstance(after, (int, float)) and not isinstance(after, bool):
            changes.append(f"{key} {before} → {after}")
        else:
            changes.append(key)
    return changes, items


def _key(item: Any) -> str:
    """A host's name, an image's label."""
    return str(getattr(item, "name", None) or item.label)


def _update(node: Node, listed: Node) -> bool:
    """A node that stays takes what its provider now says of it; whether anything changed."""
    fields = ("label", "capabilities", "slots", "address", "default", "log_leases")
    changed = any(getattr(node, f) != getattr(listed, f) for f in fields)
    for f in fields:
        setattr(node, f, getattr(listed, f))
    return changed


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
