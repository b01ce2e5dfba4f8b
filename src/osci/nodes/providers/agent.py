"""The `agent` provider: machines running `osci agent`, which pull their builds over HTTP(S).

Agents reach the server, never the other way round, so they work behind NAT. An agent
registers with its per-agent token (`osci token create NAME --kind agent`; revoking it stops
the agent), then polls: each poll is a long poll and its heartbeat. For each assignment it
downloads the workspace, runs the attempt with the same executor, streams the console, uploads
logs, artifacts and results, and finishes it (`osci/agent/`). A small workspace comes inside
the poll's answer; the console's last lines come with the attempt's report.

The server's side of one attempt (`run_attempt`, in the build's worker thread) prepares the
workspace as the executor does, queues the assignment for the leased agent and waits for it.

An agent silent for `heartbeat-timeout` seconds is lost: its attempts end as a NodeFailure (the
attempt is ERROR and the build is retried on another node) and its node goes offline. When it
speaks again it is told to abandon those attempts and their late results are refused, so
nothing is counted twice; its node comes back.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import secrets
import tarfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from osci.config.providers import LabelSpec, ProviderSpec
from osci.executor import workspace as workspaces
from osci.executor.attempt import AttemptSetup
from osci.executor.console import Console
from osci.model import Attempt, NodeRequest, Result
from osci.model.build import PhaseRun
from osci.model.job import job_to_dict
from osci.nodes import model as nm
from osci.nodes.model import Node
from osci.nodes.providers.base import Lease, NodeFailure, Provider

log = logging.getLogger("osci.nodes")
WAIT_MAX = 20.0  # seconds a poll may be held open when there is nothing to say
INLINE_WORKSPACE = 256 * 1024  # a workspace archive up to this size travels inside the poll's
# answer (base64): one request fewer per build; larger ones are downloaded
WATCH_INTERVAL = 0.5


class AgentError(Exception):
    """A request an agent must not make now; `status` is the HTTP answer (401, 403, 404, 409, 413)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(eq=False)
class Assignment:
    """One attempt handed to an agent."""

    id: str
    agent: str
    payload: dict[str, Any]
    archive: Path  # the workspace, as a tar the agent downloads
    console: Console
    cancel: threading.Event | None
    done: threading.Event = field(default_factory=threading.Event)
    taken: bool = False  # delivered in a poll's answer
    attempt: dict[str, Any] | None = None  # what the agent reported
    lost: str | None = None  # why the agent will never finish it
    seq: int = 0  # the last console batch written (batches are resent after network errors)
    results: Path | None = None
    cancel_sent: bool = False

    @property
    def cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()


@dataclass(eq=False)
class Agent:
    """A registered agent: one node of `slots` slots."""

    name: str
    label: str
    provides: tuple[str, ...]
    slots: int
    session: str
    address: str
    version: str
    last_seen: float
    queued: list[Assignment] = field(default_factory=list)
    active: dict[str, Assignment] = field(default_factory=dict)
    lost: bool = False
    stopping: bool = False
    wake: asyncio.Event = field(default_factory=asyncio.Event)


class AgentProvider(Provider):
    """Its nodes come and go: one per registered agent, added to the pool at registration."""

    def __init__(self, spec: ProviderSpec) -> None:
        super().__init__(spec)
        self.agents: dict[str, Agent] = {}
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._watch: asyncio.Task | None = None
        self.timeout = spec.heartbeat_timeout
        self.poll_wait = max(0.5, min(WAIT_MAX, self.timeout / 3))
        self.max_upload = spec.max_upload * 1024 * 1024
        self.allowed = {label.name: label for label in spec.labels}
        self.archives = WorkspaceArchives()

    # -- the Provider interface ---------------------------------------------------------------

    def nodes(self) -> list[Node]:
        return []  # agents register themselves

    def could_serve(self, request: NodeRequest) -> bool:
        """A build for a label agents may register with waits for one instead of failing."""
        if request.label == nm.ANY_LABEL:
            return False
        return not self.allowed or request.label in self.allowed

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._watch = asyncio.create_task(self._watch_loop(), name=f"osci-agents-{self.name}")

    def close(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
        with self._lock:
            for agent in self.agents.values():
                for assignment in [*agent.queued, *agent.active.values()]:
                    assignment.lost = assignment.lost or "the server is stopping"
                    assignment.done.set()

    async def probe(self, node: Node) -> str | None:
        with self._lock:
            agent = self.agents.get(node.name)
            if agent is None:
                return "the agent is not connected"
            if agent.lost or time.monotonic() - agent.last_seen > self.timeout:
                return f"no word from the agent for {time.monotonic() - agent.last_seen:.0f} s"
        return None

    def reconfigure(self, spec: ProviderSpec | None, **options: object) -> AgentProvider:
        """A reload, in place (registered agents stay): labels taken, `max` (for new registrations),
        heartbeat timeout, max upload. None: the provider was removed: it takes no more agents
        (403, so they stop) while those running builds finish them."""
        with self._lock:
            if spec is None:
                self.allowed = {"none (the provider was removed from the configuration)": LabelSpec("")}
                return self
            self.spec = spec
            self.timeout = spec.heartbeat_timeout
            self.poll_wait = max(0.5, min(WAIT_MAX, self.timeout / 3))
            self.max_upload = spec.max_upload * 1024 * 1024
            self.allowed = {label.name: label for label in spec.labels}
        return self

    def leave(self, node: Node, why: str) -> None:
        """The pool dropped the agent's node (a reload removed its provider or its label): its next
        poll is refused (409) and it registers again, with the provider that takes its label."""
        with self._lock:
            agent = self.agents.pop(node.name, None)
            if agent is not None:
                self._lose(agent, why)
        if agent is not None:
            self._wake(agent)
            log.info("agent %s leaves provider %s: %s", node.name, self.name, why)

    def run_attempt(self, lease: Lease, setup: AttemptSetup) -> Attempt:
        start = time.time()
        node = lease.primary.name
        if setup.cancel is not None and setup.cancel.is_set():
            return Attempt(setup.number, Result.ABORTED, start, time.time(), reason="cancelled before it started")
        req, console = setup.request, setup.console
        try:
            archive = self.archives.acquire(req, setup.workspace, console)
        except (workspaces.WorkspaceError, OSError, tarfile.TarError) as exc:
            console.note(f"osci: workspace: {exc}")
            return Attempt(setup.number, Result.ERROR, start, time.time(), reason=f"workspace: {exc}")
        setup.workspace.mkdir(parents=True, exist_ok=True)  # where the result files come back
        payload = self._payload(lease, setup)
        if _size(archive) <= INLINE_WORKSPACE:
            payload["workspace_tar"] = base64.b64encode(archive.read_bytes()).decode("ascii")
        assignment = Assignment(
            id=f"{req.uuid}-{setup.number}",
            agent=node,
            payload=payload,
            archive=archive,
            console=console,
            cancel=setup.cancel,
        )
        try:
            with self._lock:
                agent = self.agents.get(node)
                if agent is None or agent.lost:
                    raise NodeFailure(node, "the agent is not connected")
                agent.queued.append(assignment)
            console.note(f"osci: attempt {setup.number} handed to agent {node} ({agent.address})")
            self._wake(agent)
            while not assignment.done.wait(0.5):
                if assignment.cancelled:
                    with self._lock:
                        if not assignment.taken and assignment in agent.queued:
                            agent.queued.remove(assignment)
                            return Attempt(
                                setup.number, Result.ABORTED, start, time.time(), reason="cancelled before the agent took it"
                            )
                    self._wake(agent)  # the next poll carries the cancel
            if assignment.lost is not None:
                raise NodeFailure(node, assignment.lost)
            if assignment.results is not None:
                try:
                    _unpack(assignment.results, req.build_dir, setup.workspace)
                except (tarfile.TarError, OSError) as exc:
                    console.note(f"osci: the agent's results could not be unpacked: {exc}")
            return _attempt(setup.number, assignment.attempt or {}, start)
        finally:
            self.archives.release(archive)
            if assignment.results is not None:
                assignment.results.unlink(missing_ok=True)

    def _payload(self, lease: Lease, setup: AttemptSetup) -> dict[str, Any]:
        req = setup.request
        return {
            "id": f"{req.uuid}-{setup.number}",
            "build": req.uuid,
            "attempt": setup.number,
            "job": job_to_dict(req.job),
            "variables": setup.variables,
            "env": {str(k): str(v) for k, v in req.extra_env.items()},
            "project": req.project,
            "branch": req.branch,
            "ref": req.ref,
            "change": req.change,
            "marker": setup.marker,
            "node": lease.primary.name,
            "nodes": {
                role: {"name": n.name, "address": n.address}
                for role, n in zip(lease.roles, lease.nodes, strict=False)
            },
        }

    # -- what agents ask (called by the web routes, on the server's loop) ------------------------

    def register(self, name: str, label: str, provides: list[str], slots: int, address: str, version: str) -> dict:
        if not label or label == nm.ANY_LABEL:
            raise AgentError(400, "an agent needs a label (--label)")
        if self.allowed and label not in self.allowed:
            raise AgentError(
                403, f"provider {self.name} takes agents with labels {', '.join(sorted(self.allowed))}, not {label!r}"
            )
        pool = self.pool
        with self._lock:
            other = pool.nodes.get(name) if pool is not None else None
            if other is not None and other.provider != self.name:
                raise AgentError(409, f"a node named {name!r} comes from provider {other.provider}")
            old = self.agents.get(name)
            if old is not None and (old.active or old.queued):
                self._lose(old, "the agent registered again (restarted): its running attempts are lost")
            limit = self.allowed.get(label)
            if limit is not None and limit.max is not None:
                same = [a for a in self.agents.values() if a.label == label and a.name != name]
                if len(same) >= limit.max:
                    raise AgentError(409, f"label {label!r} already has its {limit.max} agents (max)")
            agent = Agent(
                name=name,
                label=label,
                provides=tuple(provides),
                slots=max(1, slots),
                session=secrets.token_hex(16),
                address=address,
                version=version,
                last_seen=time.monotonic(),
            )
            self.agents[name] = agent
        node = Node(
            name=name,
            label=label,
            provider=self.name,
            capabilities=tuple(provides),
            slots=agent.slots,
            address=f"agent at {address}",
        )
        if pool is not None:
            pool.add_node(node, f"agent {version} at {address}, {agent.slots} slot(s)")
        log.info("agent %s registered: label %s, provides %s, %d slot(s), from %s", name, label, provides, slots, address)
        return {"agent": name, "session": agent.session, "poll_wait": self.poll_wait, "heartbeat_timeout": self.timeout}

    async def poll(self, name: str, session: str, running: list[str], stopping: bool, wait: float) -> dict:
        agent = self._agent(name, session)
        self._seen(agent)
        if stopping and not agent.stopping:
            agent.stopping = True
            if self.pool is not None:
                self.pool.drain_node(name, "the agent is stopping: it finishes its builds")
        with self._lock:
            for assignment in list(agent.active.values()):
                if assignment.taken and assignment.id not in running:
                    # the answer that carried it never reached the agent: hand it out again
                    assignment.taken = False
                    del agent.active[assignment.id]
                    agent.queued.insert(0, assignment)
        deadline = time.monotonic() + max(0.0, min(wait, self.poll_wait))
        while True:
            agent.wake.clear()
            reply = self._reply(agent, running)
            left = deadline - time.monotonic()
            if reply["work"] or reply["cancel"] or reply["abandon"] or left <= 0:
                return reply
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(agent.wake.wait(), left)
            self._seen(agent)

    def _reply(self, agent: Agent, running: list[str]) -> dict:
        with self._lock:
            work = []
            while agent.queued:
                assignment = agent.queued.pop(0)
                assignment.taken = True
                agent.active[assignment.id] = assignment
                work.append(assignment.payload)
            cancel = []
            for assignment in agent.active.values():
                if assignment.cancelled and not assignment.cancel_sent:
                    assignment.cancel_sent = True
                    cancel.append(assignment.id)
            abandon = [i for i in running if i not in agent.active]
        return {"work": work, "cancel": cancel, "abandon": abandon}

    def workspace(self, name: str, session: str, assignment_id: str) -> Path:
        assignment = self._assignment(name, session, assignment_id)
        return assignment.archive

    def console(self, name: str, session: str, assignment_id: str, seq: int, lines: list[str]) -> dict:
        assignment = self._assignment(name, session, assignment_id)
        with self._lock:
            fresh = seq > assignment.seq
            if fresh:
                assignment.seq = seq
        if fresh:
            assignment.console.stamped(lines)
        return {"cancel": assignment.cancelled}

    async def results(self, name: str, session: str, assignment_id: str, chunks: Any) -> int:
        """Store the uploaded results archive (a tar) next to the build; its size."""
        assignment = self._assignment(name, session, assignment_id)
        # one file per attempt: the jobs of one change share their workspace archive
        target = assignment.archive.parent / f"{assignment.id}.results.tar"
        size = 0
        with open(target, "wb") as out:
            async for chunk in chunks:
                size += len(chunk)
                if size > self.max_upload:
                    out.close()
                    target.unlink(missing_ok=True)
                    raise AgentError(413, f"results larger than max-upload ({self.spec.max_upload} MiB)")
                out.write(chunk)
        with self._lock:
            if assignment.done.is_set():
                target.unlink(missing_ok=True)
                raise AgentError(409, f"attempt {assignment_id} is no longer expected from this agent")
            assignment.results = target
        return size

    def finish(self, name: str, session: str, assignment_id: str, attempt: dict[str, Any]) -> None:
        assignment = self._assignment(name, session, assignment_id)
        with self._lock:
            agent = self.agents[name]
            if agent.active.get(assignment_id) is not assignment or assignment.done.is_set():
                raise AgentError(409, f"attempt {assignment_id} is no longer expected from this agent")
            del agent.active[assignment_id]
            assignment.attempt = attempt
            assignment.done.set()

    def deregister(self, name: str, session: str) -> None:
        agent = self._agent(name, session)
        with self._lock:
            if agent.active or agent.queued:
                self._lose(agent, "the agent stopped before finishing its attempts")
            self.agents.pop(name, None)
        if self.pool is not None:
            self.pool.remove_node(name, "the agent stopped")
        log.info("agent %s stopped", name)

    # -- bookkeeping --------------------------------------------------------------------------

    def _agent(self, name: str, session: str) -> Agent:
        with self._lock:
            agent = self.agents.get(name)
        if agent is None or not secrets.compare_digest(agent.session, session or ""):
            raise AgentError(409, f"agent {name!r} is not registered in this session: register again")
        return agent

    def _assignment(self, name: str, session: str, assignment_id: str) -> Assignment:
        agent = self._agent(name, session)
        self._seen(agent)
        with self._lock:
            assignment = agent.active.get(assignment_id)
        if assignment is None:
            raise AgentError(409, f"attempt {assignment_id} is no longer expected from this agent")
        return assignment

    def _seen(self, agent: Agent) -> None:
        agent.last_seen = time.monotonic()
        back = False
        with self._lock:
            if agent.lost:
                agent.lost = False
                back = True
        if self.pool is not None:
            node = self.pool.nodes.get(agent.name)
            if back or (node is not None and node.state == nm.OFFLINE):
                self.pool.node_back(agent.name, "the agent answers again")

    def _lose(self, agent: Agent, why: str) -> None:
        """Under the lock: the agent's attempts will never finish (their threads raise NodeFailure)."""
        for assignment in [*agent.queued, *agent.active.values()]:
            assignment.lost = why
            assignment.done.set()
        agent.queued.clear()
        agent.active.clear()

    async def _watch_loop(self) -> None:
        while True:
            await asyncio.sleep(WATCH_INTERVAL)
            now = time.monotonic()
            silent = []
            with self._lock:
                for agent in self.agents.values():
                    quiet = now - agent.last_seen
                    if not agent.lost and quiet > self.timeout:
                        agent.lost = True
                        self._lose(agent, f"agent stopped heartbeating ({quiet:.0f} s without a word)")
                        silent.append((agent.name, quiet))
            for name, quiet in silent:
                log.warning("agent %s lost: %.0f s without a word", name, quiet)
                if self.pool is not None:
                    self.pool.node_offline(name, f"no word from the agent for {quiet:.0f} s")

    def _wake(self, agent: Agent) -> None:
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(agent.wake.set)


class WorkspaceArchives:
    """The workspaces handed to agents, as tar files. The jobs of one change get the same
    workspace, so one clone and one tar per (repository, commit, branch) serve them all; a
    working-directory copy (no ref) is packed for each attempt."""

    KEEP = 256  # unused archives kept for the next jobs of the same change (fair share takes
    # turns across projects, so many changes are in flight at once) ...
    KEEP_BYTES = 2 * 1024**3  # ... within this much disk

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str, str], Path] = {}
        self._users: dict[Path, int] = {}
        self._building: dict[tuple[str, str, str], threading.Lock] = {}
        self._idle: list[tuple[str, str, str]] = []  # least recently used first
        self._keys: dict[Path, tuple[str, str, str]] = {}  # archive -> its key
        self._sizes: dict[Path, int] = {}  # archive -> bytes (counted once, when packed)
        self._idle_bytes = 0

    def acquire(self, req: Any, workspace: Path, console: Console) -> Path:
        if req.ref is None or not workspaces.FULL_SHA.fullmatch(req.ref):
            return self._build(req, workspace, console, workspace.parent / f"{workspace.name}.agent.tar")
        key = (str(req.source), req.ref, req.branch or "", tuple(sorted(req.projects.items())))
        with self._lock:
            building = self._building.setdefault(key, threading.Lock())
        with building:
            with self._lock:
                path = self._entries.get(key)
                if path is not None and path.exists():
                    self._users[path] = self._users.get(path, 0) + 1
                    if key in self._idle:
                        self._idle.remove(key)
                        self._idle_bytes -= self._sizes.get(path, 0)
                    console.note(f"osci: workspace: {req.source} at {req.ref}, packed for an earlier job")
                    return path
            scratch = workspace.parent / f"{workspace.name}.pack"
            path = self._build(req, scratch, console, workspace.parent / f"{req.ref}-{len(self._entries)}-{workspace.name}.agent.tar")
            size = _size(path)
            with self._lock:
                self._entries[key] = path
                self._keys[path] = key
                self._sizes[path] = size
                self._users[path] = self._users.get(path, 0) + 1
            return path

    def release(self, path: Path) -> None:
        """Every build gives its archive back: kept for later jobs of the change when it is a
        shared one (the least recently used go first), deleted otherwise."""
        with self._lock:
            users = self._users.get(path, 0) - 1
            key = self._keys.get(path)
            if users > 0:
                self._users[path] = users
                return
            self._users.pop(path, None)
            if key is None:
                path.unlink(missing_ok=True)
                return
            self._idle.append(key)
            self._idle_bytes += self._sizes.get(path, 0)
            while self._idle and (len(self._idle) > self.KEEP or self._idle_bytes > self.KEEP_BYTES):
                old = self._idle.pop(0)
                gone = self._entries.pop(old, None)
                if gone is not None:
                    self._idle_bytes -= self._sizes.pop(gone, 0)
                    self._keys.pop(gone, None)
                    gone.unlink(missing_ok=True)
                self._building.pop(old, None)

    @staticmethod
    def _build(req: Any, folder: Path, console: Console, archive: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        try:
            if req.ref is not None:
                workspaces.clone_all(req, folder, console)
                workspaces.make_self_contained(folder)
            else:
                skip = [req.build_dir] + ([req.workspace_root] if req.workspace_root else [])
                workspaces.copy(req.source, folder, skip, console)
            _pack(archive, folder)
        finally:
            workspaces.remove(folder)
        return archive


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _attempt(number: int, data: dict[str, Any], start: float) -> Attempt:
    """The agent's report of an attempt; anything malformed makes it ERROR, never FAILURE."""
    try:
        result = Result(str(data.get("result")))
    except ValueError:
        return Attempt(number, Result.ERROR, start, time.time(), reason=f"the agent reported {data.get('result')!r}")
    phases = []
    for phase in data.get("phases") or []:
        if isinstance(phase, dict):
            with contextlib.suppress(TypeError, ValueError):
                phases.append(
                    PhaseRun(
                        str(phase.get("phase", "")),
                        str(phase.get("step", "")),
                        None if phase.get("returncode") is None else int(phase["returncode"]),
                        float(phase.get("duration") or 0.0),
                        bool(phase.get("timed_out")),
                        bool(phase.get("aborted")),
                    )
                )
    return Attempt(number, result, start, time.time(), reason=str(data.get("reason") or "")[:2000], phases=phases)


def _pack(archive: Path, workspace: Path) -> None:
    # GNU headers: the default (pax) adds an extended header to most members, which doubles
    # what every agent parses to unpack it. Compressed (quickly): a small repository's tar is
    # mostly block padding, and it travels inside every poll's answer that hands it out.
    with tarfile.open(archive, "w:gz", format=tarfile.GNU_FORMAT, compresslevel=1) as tar:
        tar.add(str(workspace), arcname="ws")


def _unpack(archive: Path, build_dir: Path, workspace: Path) -> None:
    """logs/ and artifacts/ into the build directory, ws/ (test results, metrics) into the
    workspace where the executor collects them; the `data` filter refuses links out and devices."""
    targets = (("logs/", build_dir / "logs"), ("artifacts/", build_dir / "artifacts"), ("ws/", workspace))
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            for prefix, target in targets:
                if member.name.startswith(prefix) and len(member.name) > len(prefix):
                    member.name = member.name[len(prefix) :]
                    with contextlib.suppress(tarfile.FilterError):
                        tar.extract(member, target, filter="data")
                    break

