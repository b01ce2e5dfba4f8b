"""The `container` provider: a fresh podman or docker container per build.

One node per configured image (its label), with `max` slots: at most that many containers of the
label at once. One attempt, in the build's worker thread:

1. the workspace is prepared here as the executor does (clone or copy);
2. a container is taken: a warm one started ahead (`min-ready`) or a fresh one,
   `<engine> run -d --rm <options> --entrypoint sleep <image> infinity`;
3. the workspace, the step environment (`.osci/env.sh`) and the vars file go in as one tar stream
   (`<engine> exec -i <id> tar -x`) under `<workdir>/<build>-<attempt>`;
4. each step runs with `<engine> exec` through the executor's `run_step` (console line by line,
   job timeout and cancel); a killed `exec` client leaves its process running in the container,
   so the step's processes are then killed inside (`kill -1`: all but the container's init);
5. post-run runs; logs, artifacts and the files matching `test-results` and `metrics` come back
   as one tar stream, as from a static host;
6. the container is removed, always (also after errors), and a warm one is started in the
   background to keep `min-ready`.

An engine that fails (no engine, missing image, a container that cannot start or stops) is a
NodeFailure: the attempt is ERROR and retried, never a test failure. The image needs `bash`,
`tar` and `sleep`. Steps run in the nodeset's first node's container; the other nodes of a
multi-node nodeset hold a slot but get no container (containers of one build do not see each
other). Two servers must not share a provider name on one engine: a server removes, at start,
the containers its provider's name labels (what a crashed run left behind).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from osci.config.providers import DEFAULT_CONTAINER_MAX, ImageSpec, ProviderSpec
from osci.executor import workspace as workspaces
from osci.executor.attempt import AttemptSetup
from osci.executor.env import remote_step_env
from osci.executor.proctree import marker_env
from osci.executor.step import KILL_GRACE, Leftovers, run_step
from osci.model import Attempt, Result, Step
from osci.model.build import PhaseRun
from osci.nodes.model import Node
from osci.nodes.providers.base import Lease, NodeFailure, Provider
from osci.nodes.providers.static import _bring_back_script, _exit_text, _pack, _text, _unpack

log = logging.getLogger("osci.nodes")

DEFAULT_POST_TIMEOUT = 600.0
CANCEL_POST_TIMEOUT = 30.0
START_TIMEOUT = 900.0  # `run` may pull the image first
ENGINE_TIMEOUT = 120.0  # any other engine command (info, exec of osci's own scripts, rm)
RETRY_WARM_AFTER = 10.0  # seconds before trying again to start warm containers that failed
OWNER_LABEL = "osci.provider"  # containers carry their provider's name: leftovers are found


class EngineError(Exception):
    """The container engine failed (not the build): becomes a NodeFailure."""


@dataclass
class _LabelState:
    image: ImageSpec
    max: int
    min_ready: int
    warm: list[str] = field(default_factory=list)  # started ahead, not yet used
    starting: int = 0  # warm containers being started
    in_use: int = 0  # containers of running attempts
    failed_at: float = 0.0  # the last failure to start a warm one (retried later)
    retired: bool = False  # a reload removed its image: no node, no warm ones; running ones finish


class ContainerProvider(Provider):
    blocking_close = True  # it waits for the warm containers being started, then removes them

    def __init__(self, spec: ProviderSpec) -> None:
        super().__init__(spec)
        self.labels: dict[str, _LabelState] = {}
        for image, most, min_ready in _sizes(spec):
            self.labels[image.label] = _LabelState(image, most, min_ready)
        self._engine: str | None = None
        self._podman = True  # podman (else docker): `rm` differs
        self._engine_lock = threading.Lock()
        self._lock = threading.Condition()
        self._live: set[str] = set()  # containers this process started and has not removed
        self._orphans: set[str] = set()  # containers whose removal failed: removed when the engine is back
        self._closed = False
        self._keeper: threading.Thread | None = None

    def node_name(self, label: str) -> str:
        return f"{self.name}:{label}"

    def nodes(self) -> list[Node]:
        # called once, when the pool is made: the background keeper starts here (it first removes
        # what an earlier run of this provider left, then keeps `min-ready` warm containers)
        if self._keeper is None:
            self._keeper = threading.Thread(target=self._keep, name=f"osci-warm-{self.name}", daemon=True)
            self._keeper.start()
        return [
            Node(
                name=self.node_name(label),
                label=label,
                provider=self.name,
                capabilities=tuple(state.image.provides),
                slots=state.max,
                address=f"{self.spec.engine} {state.image.image}",
                log_leases=False,  # a container per build: the events would drown the node's history
            )
            for label, state in self.labels.items()
            if not state.retired
        ]

    def reconfigure(self, spec: ProviderSpec | None, **options: object) -> ContainerProvider:
        """A reload, in place (the containers are this provider's): images and labels added,
        changed (warm containers of the old image or options are removed, running ones finish)
        or removed (no more warm ones); None: the provider was removed. `engine` cannot change."""
        stale: list[str] = []
        with self._lock:
            sizes = {image.label: (image, most, min_ready) for image, most, min_ready in _sizes(spec)} if spec else {}
            renewed = spec is not None and spec.options != self.spec.options
            for label, state in self.labels.items():
                if label not in sizes or renewed or sizes[label][0] != state.image:
                    stale += state.warm
                    state.warm.clear()
                if label not in sizes:
                    state.retired, state.min_ready = True, 0
            for label, (image, most, min_ready) in sizes.items():
                state = self.labels.setdefault(label, _LabelState(image, most, min_ready))
                state.image, state.max, state.min_ready, state.retired = image, most, min_ready, False
            self.spec = spec or self.spec
            self._lock.notify_all()
        if stale:  # the engine may be slow: not on the server's loop
            threading.Thread(target=lambda: [self.remove(c) for c in stale], daemon=True).start()
        return self

    # -- the engine ---------------------------------------------------------------------------

    def engine(self) -> str:
        """The engine's program; `auto`: the first of podman and docker whose `info` answers."""
        with self._engine_lock:
            if self._engine is None:
                self._engine = self._find_engine()
                self._podman = _is_podman(self._engine)
            return self._engine

    def _find_engine(self) -> str:
        wanted = self.spec.engine
        if wanted != "auto":
            path = shutil.which(wanted)
            if path is None:
                raise EngineError(f"container engine `{wanted}` is not installed")
            return path
        problems = []
        for candidate in ("podman", "docker"):
            path = shutil.which(candidate)
            if path is None:
                problems.append(f"{candidate}: not installed")
                continue
            problem = _info_problem(path)
            if problem is None:
                return path
            problems.append(f"{candidate}: {problem}")
        raise EngineError("no container engine answers (" + "; ".join(problems) + ")")

    def call(
        self,
        args: list[str],
        timeout: float = ENGINE_TIMEOUT,
        stdin: Path | None = None,
        stdout: Path | None = None,
    ) -> subprocess.CompletedProcess[bytes]:
        """Run `<engine> args`; EngineError when the engine cannot be run or hangs."""
        engine = self.engine()
        try:
            with contextlib.ExitStack() as stack:
                given_in = stack.enter_context(stdin.open("rb")) if stdin else subprocess.DEVNULL
                given_out = stack.enter_context(stdout.open("wb")) if stdout else subprocess.PIPE
                return subprocess.run(
                    [engine, *args], stdin=given_in, stdout=given_out, stderr=subprocess.PIPE, timeout=timeout
                )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise EngineError(f"`{Path(engine).name} {args[0]}` failed: {exc}") from None

    async def probe(self, node: Node) -> str | None:
        import asyncio

        return await asyncio.to_thread(self._probe)

    def _probe(self) -> str | None:
        if self.spec.engine == "auto":
            with self._engine_lock:
                self._engine = None  # the engine that answers may have changed
        try:
            problem = _info_problem(self.engine())
        except EngineError as exc:
            return str(exc)
        if problem is None:
            self._remove_orphans()
        return problem

    # -- containers ---------------------------------------------------------------------------

    def start_container(self, label: str) -> str:
        """A fresh container of the label's image, running `sleep infinity`; its id."""
        state = self.labels[label]
        safe = re.sub(r"[^a-zA-Z0-9_.-]", "-", f"{self.name}-{label}")
        args = [
            "run", "-d", "--rm",
            "--name", f"osci-{safe}-{uuid.uuid4().hex[:12]}",
            "--label", f"{OWNER_LABEL}={self.name}",
            "--label", f"osci.label={label}",
            *self.spec.options, *state.image.options,
            "--entrypoint", "sleep", state.image.image, "infinity",
        ]  # fmt: skip
        done = self.call(args, timeout=START_TIMEOUT)
        lines = _text(done.stdout).splitlines()
        if done.returncode != 0 or not lines:
            why = _text(done.stderr) or f"exit status {done.returncode}"
            raise EngineError(f"cannot start a container from {state.image.image}: {why}")
        container = lines[-1].strip()
        with self._lock:
            self._live.add(container)
        return container

    def remove(self, container: str) -> bool:
        """Remove a container (kills what runs in it); False when the engine could not."""
        try:
            self.engine()  # resolved, and whether it is podman
            # podman's `rm -f` waits 10 s for the `sleep` (pid 1 ignores SIGTERM) unless `-t 0`;
            # docker's kills at once and has no `-t`
            done = self.call(["rm", "-f", "-t", "0", container] if self._podman else ["rm", "-f", container])
            gone = done.returncode == 0 or "no such container" in _text(done.stderr).lower()
        except EngineError:
            gone = False
        with self._lock:
            self._live.discard(container)
            if gone:
                self._orphans.discard(container)
            else:
                self._orphans.add(container)
        return gone

    def running(self, container: str) -> bool:
        try:
            done = self.call(["inspect", "-f", "{{.State.Running}}", container])
        except EngineError:
            return False
        return done.returncode == 0 and _text(done.stdout) == "true"

    def acquire(self, label: str) -> tuple[str, bool]:
        """A container for one attempt: a warm one if there is one, else a fresh one; and
        whether it was warm. Raises EngineError."""
        state = self.labels[label]
        with self._lock:
            state.in_use += 1
            container = state.warm.pop(0) if state.warm else None
            self._lock.notify_all()
        try:
            if container is not None and self.running(container):
                return container, True
            if container is not None:
                log.info("container %s: the warm container %s stopped; starting a fresh one", label, container)
                self.remove(container)
            return self.start_container(label), False
        except BaseException:
            self.release(label, None)
            raise

    def release(self, label: str, container: str | None) -> None:
        """The attempt is over: its container is removed; the keeper tops the warm ones up."""
        if container is not None:
            self.remove(container)
        with self._lock:
            self.labels[label].in_use -= 1
            self._lock.notify_all()

    def run_attempt(self, lease: Lease, setup: AttemptSetup) -> Attempt:
        return _ContainerAttempt(self, lease, setup).run()

    # -- warm containers, leftovers -----------------------------------------------------------

    def _keep(self) -> None:
        """Background: remove an earlier run's leftovers, then keep `min-ready` containers warm
        per label (never more than `max` containers of a label in all)."""
        self._remove_leftovers()
        while True:
            with self._lock:
                if self._closed:
                    return
                label = self._wanted()
                if label is None:
                    self._lock.wait(1.0)
                    continue
                self.labels[label].starting += 1
                image = self.labels[label].image
            try:
                container: str | None = self.start_container(label)
            except EngineError as exc:
                log.warning("provider %s: cannot start a warm container for %s: %s", self.name, label, exc)
                container = None
            with self._lock:
                state = self.labels[label]
                state.starting -= 1
                if container is None:
                    state.failed_at = time.monotonic()
                elif self._closed or state.retired or state.image != image:
                    pass  # closed, or a reload changed the label while it started
                else:
                    state.warm.append(container)
                    container = None
                self._lock.notify_all()
            if container is not None:  # closed while it started
                self.remove(container)

    def _wanted(self) -> str | None:
        """A label that needs another warm container now (under the lock)."""
        now = time.monotonic()
        for label, s in self.labels.items():
            target = min(s.min_ready, s.max - s.in_use)
            if len(s.warm) + s.starting < target and now - s.failed_at >= RETRY_WARM_AFTER:
                return label
        return None

    def warm(self, label: str) -> list[str]:
        with self._lock:
            return list(self.labels[label].warm)

    def _remove_leftovers(self) -> None:
        try:
            done = self.call(["ps", "-a", "-q", "--no-trunc", "--filter", f"label={OWNER_LABEL}={self.name}"])
        except EngineError as exc:
            log.warning("provider %s: cannot list leftover containers: %s", self.name, exc)
            return
        with self._lock:
            mine = set(self._live)
        for container in _text(done.stdout).split():
            if container not in mine and not any(m.startswith(container) for m in mine):
                log.info("provider %s: removing container %s left by an earlier run", self.name, container)
                self.remove(container)

    def _remove_orphans(self) -> None:
        with self._lock:
            orphans = list(self._orphans)
        for container in orphans:
            self.remove(container)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._lock.notify_all()
            warm = [c for s in self.labels.values() for c in s.warm]
            for s in self.labels.values():
                s.warm.clear()
        if self._keeper is not None:
            self._keeper.join(START_TIMEOUT)
        for container in warm:
            self.remove(container)
        self._remove_orphans()  # those whose removal failed while the engine was away


class _ContainerAttempt:
    def __init__(self, provider: ContainerProvider, lease: Lease, setup: AttemptSetup) -> None:
        self.p = provider
        self.lease = lease
        self.s = setup
        self.node = lease.primary.name
        self.label = str(lease.primary.label)
        req = setup.request
        self.root = PurePosixPath(provider.spec.workdir) / f"{req.uuid}-{setup.number}"
        self.container: str | None = None
        self.phases: list[PhaseRun] = []
        self.leftovers = Leftovers(setup.console)

    def cancelled(self) -> bool:
        return self.s.cancel is not None and self.s.cancel.is_set()

    def run(self) -> Attempt:
        start = time.time()
        console = self.s.console
        if self.cancelled():
            return Attempt(
                self.s.number, Result.ABORTED, start, time.time(), reason="cancelled before it started"
            )
        problem = self._prepare()
        if problem is not None:
            return Attempt(self.s.number, Result.ERROR, start, time.time(), reason=problem)
        try:
            try:
                self.container, warm = self.p.acquire(self.label)
            except EngineError as exc:
                raise NodeFailure(self.node, str(exc)) from None
            console.note(
                f"osci: {'warm' if warm else 'fresh'} container {self.container[:12]} "
                f"of {self.p.labels[self.label].image.image}"
            )
            try:
                self._push()
                result, reason = self._main()
                post_failures = self._post_run(aborted=result is Result.ABORTED)
                self._bring_back()
            finally:
                self.leftovers.close()
                self.p.release(self.label, self.container)
                console.note(f"osci: container {self.container[:12]} removed")
        except EngineError as exc:
            raise NodeFailure(self.node, str(exc)) from None
        if post_failures:
            reason = "; ".join([r for r in (reason, *post_failures) if r])
        console.note(f"osci: attempt {self.s.number}: {result}" + (f" ({reason})" if reason else ""))
        return Attempt(self.s.number, result, start, time.time(), reason=reason, phases=self.phases)

    # -- the workspace there ------------------------------------------------------------------

    def _prepare(self) -> str | None:
        """The workspace here, as the executor makes it; why it could not be made, or None."""
        req, console = self.s.request, self.s.console
        try:
            self.s.workspace.mkdir(parents=True, exist_ok=True)
            if req.prepared:
                pass
            elif req.ref is not None:
                workspaces.clone_all(req, self.s.workspace, console)
                workspaces.make_self_contained(self.s.workspace)
            else:
                skip = [req.build_dir] + ([req.workspace_root] if req.workspace_root else [])
                workspaces.copy(req.source, self.s.workspace, skip, console)
        except (workspaces.WorkspaceError, OSError) as exc:
            console.note(f"osci: workspace: {exc}")
            return f"workspace: {exc}"
        return None

    def _env(self) -> dict[str, str]:
        """The step environment inside the container: the job's vars and the OSCI_* variables
        pointing at the container's folders (not the server's environment)."""
        env = remote_step_env(self.s.request, self.s.number, self.s.variables, self.s.marker, Path(str(self.root)))
        env["OSCI_NODE"] = self.node
        env["OSCI_CONTAINER"] = str(self.container)
        env["OSCI_NODES"] = json.dumps(
            {role: {"name": n.name} for role, n in zip(self.lease.roles, self.lease.nodes, strict=False)}
        )
        return env

    def _push(self) -> None:
        self.s.console.note(f"osci: copying the workspace into the container ({self.root})")
        env_sh = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in self._env().items())
        root = shlex.quote(str(self.root))
        with tempfile.TemporaryDirectory(prefix="osci-push-") as tmp:
            archive = Path(tmp) / "push.tar"
            _pack(archive, self.s.workspace, env_sh, self.s.vars_file)
            done = self.p.call(
                ["exec", "-i", str(self.container), "bash", "-c",
                 f"rm -rf {root} && mkdir -p {root} && tar -C {root} -xf -"],
                stdin=archive,
            )  # fmt: skip
        if done.returncode != 0:
            raise EngineError(f"could not copy the workspace into the container: {_text(done.stderr)}")

    # -- steps --------------------------------------------------------------------------------

    def _main(self) -> tuple[Result, str]:
        timeout = self.s.request.job.timeout
        deadline = time.monotonic() + timeout if timeout else None
        job = self.s.request.job
        for phase, steps in (("pre-run", job.pre_run), ("run", job.run)):
            for step in steps:
                failed = Result.ERROR if phase == "pre-run" else Result.FAILURE
                run = self._step(phase, step, deadline, self.s.cancel)
                if run is None:
                    return failed, f"{phase} step {step.label} not found in the workspace"
                if run.aborted:
                    return Result.ABORTED, f"cancelled during {phase} step {step.label}"
                if run.timed_out:
                    return Result.TIMED_OUT, f"{phase} step {step.label} hit the job timeout ({timeout:.1f} s)"
                if run.returncode != 0:
                    return failed, f"{phase} step {step.label} {_exit_text(run.returncode)}"
        return Result.SUCCESS, ""

    def _post_run(self, aborted: bool) -> list[str]:
        job = self.s.request.job
        limit = job.post_timeout if job.post_timeout is not None else DEFAULT_POST_TIMEOUT
        if aborted or self.cancelled():
            limit = min(limit, CANCEL_POST_TIMEOUT)
        deadline = time.monotonic() + limit
        failures: list[str] = []
        for step in job.post_run:
            run = self._step("post-run", step, deadline, None)
            if run is None:
                failures.append(f"post-run step {step.label} not found in the workspace")
            elif run.timed_out:
                failures.append(f"post-run step {step.label} hit the post-run timeout ({limit:.1f} s)")
                break
            elif run.returncode != 0:
                failures.append(f"post-run step {step.label} {_exit_text(run.returncode)}")
        for failure in failures:
            self.s.console.note(f"osci: {failure} (the result is not changed)")
        return failures

    def _script(self, step: Step) -> str | None:
        """The bash line that runs a step in the container, or None when its file is missing."""
        ws = str(self.root / "ws")
        if step.script is not None:
            argv = ["bash", "-e", "-o", "pipefail", "-c", step.script]
        else:
            local = self.s.workspace / (step.path or "")
            if not local.is_file():
                return None
            path = f"{ws}/{step.path}"
            argv = [path] if os.access(local, os.X_OK) else ["bash", path]
        env_sh = shlex.quote(str(self.root / ".osci" / "env.sh"))
        return (
            f"cd {shlex.quote(ws)} && set -a && . {env_sh} && set +a && exec "
            + " ".join(shlex.quote(a) for a in argv)
            + " </dev/null 2>&1"
        )

    def _step(
        self, phase: str, step: Step, deadline: float | None, cancel: threading.Event | None
    ) -> PhaseRun | None:
        console = self.s.console
        console.note(f"osci: ===== {phase}: {step.label} ({self.node}) =====")
        script = self._script(step)
        if script is None:
            console.note(f"osci: {phase} step {step.label}: file not found in the workspace")
            self.phases.append(PhaseRun(phase, step.label, None, 0.0))
            return None
        argv = [self.p.engine(), "exec", str(self.container), "bash", "-c", script]
        client_env = {**os.environ, **marker_env(self.s.marker)}  # the engine's own settings
        outcome = run_step(
            argv, self.s.workspace, client_env, console, self.leftovers, self.s.marker, deadline, cancel
        )
        if outcome.error:
            raise EngineError(f"cannot run `{Path(argv[0]).name} exec`: {outcome.error}")
        if outcome.timed_out or outcome.aborted:
            self._kill_inside()  # the killed client left the step running in the container
        elif outcome.returncode != 0 and not self.p.running(str(self.container)):
            raise EngineError(f"the container stopped during {phase} step {step.label}")
        run = PhaseRun(
            phase, step.label, outcome.returncode, outcome.duration, outcome.timed_out, outcome.aborted
        )
        self.phases.append(run)
        took = f"{outcome.duration:.1f} s"
        if outcome.timed_out:
            console.note(f"osci: {phase} step {step.label} timed out after {took}: killed")
        elif outcome.aborted:
            console.note(f"osci: {phase} step {step.label} cancelled after {took}: killed")
        else:
            console.note(f"osci: {phase} step {step.label} {_exit_text(outcome.returncode)} after {took}")
        return run

    def _kill_inside(self) -> None:
        """Every process in the container but its init (`sleep`): the step and its children."""
        ticks = int(KILL_GRACE * 10)
        script = (
            f"kill -TERM -1 2>/dev/null && for ((i = 0; i < {ticks}; i++)); do kill -0 -1 2>/dev/null || break; "
            "sleep 0.1; done; kill -KILL -1 2>/dev/null; true"
        )
        self.p.call(["exec", str(self.container), "bash", "-c", script])

    # -- results back -------------------------------------------------------------------------

    def _bring_back(self) -> None:
        job = self.s.request.job
        script = _bring_back_script(str(self.root), [*job.test_results, *job.metrics])
        with tempfile.TemporaryDirectory(prefix="osci-back-") as tmp:
            archive = Path(tmp) / "back.tar"
            done = self.p.call(["exec", str(self.container), "bash", "-c", script], stdout=archive)
            if done.returncode != 0:
                self.s.console.note(f"osci: bringing results back from the container: {_text(done.stderr)}")
            if archive.exists() and archive.stat().st_size:
                _unpack(archive, self.s.request.build_dir, self.s.workspace)


def _sizes(spec: ProviderSpec) -> list[tuple[ImageSpec, int, int]]:
    """Each image with its label's `max` containers and `min-ready` warm ones."""
    limits = {label.name: label for label in spec.labels}
    sizes = []
    for image in spec.images:
        limit = limits.get(image.label)
        most = (limit.max if limit else None) or DEFAULT_CONTAINER_MAX
        sizes.append((image, most, min(limit.min_ready if limit else 0, most)))
    return sizes


def _is_podman(engine: str) -> bool:
    """podman or docker (or a wrapper of one): what `--version` says."""
    try:
        done = subprocess.run([engine, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "docker" not in Path(engine).name
    return "docker" not in done.stdout.lower()


def _info_problem(engine: str) -> str | None:
    """Why the engine does not answer `info`, or None."""
    try:
        done = subprocess.run(
            [engine, "info"], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"`info` failed: {exc}"
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        return f"`info` exited with {done.returncode}" + (f": {lines[-1]}" if lines else "")
    return None
