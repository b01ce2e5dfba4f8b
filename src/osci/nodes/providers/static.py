"""The `static` provider: lab hosts reached over SSH (asyncssh).

One attempt on a host, in the build's worker thread (with its own event loop):

1. connect (keepalives on: a host that stops answering ends the attempt);
2. `reset` on every leased host, in its home folder; when it fails, `power-cycle` (run on the
   server's machine, e.g. an `ipmitool` line), wait for SSH to come back, reset again; a host
   that still fails is a NodeFailure: the attempt is ERROR and the build moves to another node;
3. the workspace is prepared here as the executor does (clone or copy), then pushed as one tar
   stream with the attempt's environment (`.osci/env.sh`) and vars file;
4. each step runs there in its own session (`setsid -w`), stdout and stderr streamed into the
   console line by line; the job timeout and cancels kill the step's whole session;
5. `.osci/logs`, `.osci/artifacts` and the files the job's `test-results` and `metrics` patterns
   match come back as one tar stream into the build directory and the local workspace, where
   the executor collects them as for a local build; the remote folder is removed.

A lost connection at any point is a NodeFailure, never a test failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import os
import re
import shlex
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncssh

from osci.config.providers import HostSpec, ProviderSpec
from osci.executor import workspace as workspaces
from osci.executor.attempt import AttemptSetup
from osci.executor.console import Console, LineSplitter
from osci.executor.env import remote_step_env
from osci.executor.proctree import MARKER_VAR
from osci.model import Attempt, Result, Step
from osci.model.build import PhaseRun
from osci.nodes.model import Node
from osci.nodes.providers.base import Lease, NodeFailure, Provider

CHUNK = 64 * 1024
KILL_GRACE = 2.0
DEFAULT_POST_TIMEOUT = 600.0
CANCEL_POST_TIMEOUT = 30.0
log = logging.getLogger("osci.nodes")
logging.getLogger("asyncssh").setLevel(logging.WARNING)  # its INFO lines are per channel
SSH_ERRORS = (OSError, asyncssh.Error, asyncio.TimeoutError, EOFError)


class StaticProvider(Provider):
    def __init__(self, spec: ProviderSpec) -> None:
        super().__init__(spec)
        self.hosts: dict[str, HostSpec] = {h.name: h for h in spec.hosts}
        # node -> (marker, remote folder) of attempts whose connection was lost: what they left
        # running there is killed and their folder removed when the node answers again
        self.lost: dict[str, list[tuple[str, str]]] = {}

    def reconfigure(self, spec: ProviderSpec | None, **options: object) -> Provider:
        """A new provider of the new settings (builds running on this one finish under the old
        reset, power-cycle and hosts); what lost attempts left on a host is swept by either."""
        if spec is None:
            return self
        fresh = StaticProvider(spec)
        fresh.lost = self.lost
        return fresh

    def nodes(self) -> list[Node]:
        return [
            Node(
                name=h.name,
                label=h.label,
                provider=self.name,
                capabilities=tuple(h.provides),
                address=f"ssh -p {h.port} {h.username + '@' if h.username else ''}{h.host}",
            )
            for h in self.spec.hosts
        ]

    # -- connections --------------------------------------------------------------------------

    async def connect(self, host: HostSpec) -> asyncssh.SSHClientConnection:
        options: dict[str, Any] = {
            "port": host.port,
            "keepalive_interval": 5,
            "keepalive_count_max": 3,
            "connect_timeout": self.spec.connect_timeout,
        }
        if host.username:
            options["username"] = host.username
        if host.key:
            options["client_keys"] = [os.path.expanduser(host.key)]
        if host.known_hosts == "ignore":
            options["known_hosts"] = None
        elif host.known_hosts:
            options["known_hosts"] = os.path.expanduser(host.known_hosts)
        return await asyncio.wait_for(asyncssh.connect(host.host, **options), self.spec.connect_timeout + 5)

    async def probe(self, node: Node) -> str | None:
        host = self.hosts[node.name]
        try:
            async with await self.connect(host) as conn:
                result = await asyncio.wait_for(conn.run("true"), self.spec.connect_timeout)
                if result.exit_status != 0:
                    return f"`true` exited with {result.exit_status}"
                await self.sweep(conn, node.name)
                return None
        except SSH_ERRORS as exc:
            return f"cannot connect: {exc or type(exc).__name__}"

    # -- one attempt --------------------------------------------------------------------------

    async def sweep(
        self, conn: asyncssh.SSHClientConnection, node: str, console: Console | None = None
    ) -> None:
        """Kill what lost attempts left running on the node and remove their folders."""
        for marker, remote in self.lost.pop(node, []):
            result = await conn.run(
                f"bash -c {shlex.quote(_cleanup_script(marker, remote))}", encoding="utf-8"
            )
            for line in [f"removed {remote} of an attempt whose connection was lost",
                         *str(result.stdout or "").splitlines()]:  # fmt: skip
                log.info("node %s: %s", node, line)
                if console is not None:
                    console.note(f"osci: {node}: {line}")

    def run_attempt(self, lease: Lease, setup: AttemptSetup) -> Attempt:
        return asyncio.run(_RemoteAttempt(self, lease, setup).run())

    async def reset(self, node: str, console: Console) -> None:
        """The configured reset on one host; power-cycle and once more when it fails."""
        host = self.hosts[node]
        problem = await self._reset_once(host, console)
        if problem is None:
            return
        if not self.spec.power_cycle:
            raise NodeFailure(node, f"reset failed: {problem}")
        console.note(f"osci: {node}: reset failed ({problem}); power-cycling: {self.spec.power_cycle}")
        cycled = await asyncio.to_thread(
            subprocess.run,
            ["bash", "-c", self.spec.power_cycle],
            capture_output=True,
            text=True,
            timeout=self.spec.reset_timeout,
            env={**os.environ, "OSCI_NODE": node, "OSCI_NODE_HOST": host.host},
        )
        for line in (cycled.stdout + cycled.stderr).splitlines():
            console.note(f"power-cycle {node}: {line}")
        if cycled.returncode != 0:
            raise NodeFailure(
                node, f"reset failed ({problem}) and power-cycle exited with {cycled.returncode}"
            )
        deadline = time.monotonic() + self.spec.boot_timeout
        while True:
            problem = await self._reset_once(host, console)
            if problem is None:
                return
            if "cannot connect" not in problem or time.monotonic() > deadline:
                raise NodeFailure(node, f"reset failed after a power-cycle: {problem}")
            await asyncio.sleep(2)

    async def _reset_once(self, host: HostSpec, console: Console) -> str | None:
        command = self.spec.reset
        if not command:
            return None
        try:
            async with await self.connect(host) as conn:
                console.note(f"osci: {host.name}: reset: {command}")
                result = await asyncio.wait_for(
                    conn.run(
                        f"bash -c {shlex.quote(command)}",
                        stderr=asyncssh.STDOUT,
                        encoding="utf-8",
                        errors="replace",
                    ),
                    self.spec.reset_timeout,
                )
        except SSH_ERRORS as exc:
            return f"cannot connect: {exc or type(exc).__name__}"
        for line in str(result.stdout or "").splitlines():
            console.note(f"reset {host.name}: {line}")
        if result.exit_status == 0:
            return None
        if result.exit_status is None:
            return "the connection was lost during the reset"
        return f"`{command}` exited with {result.exit_status}"


class _RemoteAttempt:
    def __init__(self, provider: StaticProvider, lease: Lease, setup: AttemptSetup) -> None:
        self.p = provider
        self.lease = lease
        self.s = setup
        self.node = lease.primary.name
        self.host = provider.hosts[self.node]
        req = setup.request
        workdir = self.host.workdir or provider.spec.workdir
        self.remote = f"{workdir.rstrip('/')}/{req.uuid}-{setup.number}"
        self.phases: list[PhaseRun] = []

    def cancelled(self) -> bool:
        return self.s.cancel is not None and self.s.cancel.is_set()

    async def run(self) -> Attempt:
        start = time.time()
        console = self.s.console
        if self.cancelled():
            return Attempt(
                self.s.number, Result.ABORTED, start, time.time(), reason="cancelled before it started"
            )
        for node in self.lease.nodes:
            if self.p.spec.reset:
                node.cleaning = True
                self.lease.note(node, "cleaning", self.p.spec.reset)
            try:
                await self.p.reset(node.name, console)
            finally:
                node.cleaning = False
        try:
            conn = await self.p.connect(self.host)
        except SSH_ERRORS as exc:
            raise NodeFailure(self.node, f"cannot connect: {exc or type(exc).__name__}") from None
        try:
            async with conn:
                await self.p.sweep(conn, self.node, console)
                self.p.lost.setdefault(self.node, []).append((self.s.marker, self.remote))
                result, reason = await self._main(conn)
                post_failures = await self._post_run(conn, aborted=result is Result.ABORTED)
                await self._bring_back(conn)
                await self._cleanup(conn)
                self.p.lost[self.node].remove((self.s.marker, self.remote))  # nothing left there
        except SSH_ERRORS as exc:
            raise NodeFailure(self.node, f"connection lost: {exc or type(exc).__name__}") from None
        if post_failures:
            reason = "; ".join([r for r in (reason, *post_failures) if r])
        console.note(f"osci: attempt {self.s.number}: {result}" + (f" ({reason})" if reason else ""))
        return Attempt(self.s.number, result, start, time.time(), reason=reason, phases=self.phases)

    # -- the workspace there ------------------------------------------------------------------

    def _env(self) -> dict[str, str]:
        env = remote_step_env(self.s.request, self.s.number, self.s.variables, self.s.marker, Path(self.remote))
        env["OSCI_NODE"] = self.node
        env["OSCI_NODES"] = json.dumps(
            {
                role: {"name": n.name, "host": self.p.hosts[n.name].host, "port": self.p.hosts[n.name].port}
                for role, n in zip(self.lease.roles, self.lease.nodes, strict=False)
            }
        )
        return env

    async def _main(self, conn: asyncssh.SSHClientConnection) -> tuple[Result, str]:
        req, console = self.s.request, self.s.console
        try:
            self.s.workspace.mkdir(parents=True, exist_ok=True)
            if req.ref is not None:
                await asyncio.to_thread(
                    workspaces.clone, req.source, req.ref, self.s.workspace, req.branch, console
                )
                await asyncio.to_thread(workspaces.make_self_contained, self.s.workspace)
            else:
                skip = [req.build_dir] + ([req.workspace_root] if req.workspace_root else [])
                await asyncio.to_thread(workspaces.copy, req.source, self.s.workspace, skip, console)
        except (workspaces.WorkspaceError, OSError) as exc:
            console.note(f"osci: workspace: {exc}")
            return Result.ERROR, f"workspace: {exc}"
        await self._push(conn)
        timeout = req.job.timeout
        deadline = time.monotonic() + timeout if timeout else None
        for phase, steps in (("pre-run", req.job.pre_run), ("run", req.job.run)):
            for step in steps:
                failed = Result.ERROR if phase == "pre-run" else Result.FAILURE
                run = await self._step(conn, phase, step, deadline, cancellable=True)
                if run is None:
                    return failed, f"{phase} step {step.label} not found in the workspace"
                if run.aborted:
                    return Result.ABORTED, f"cancelled during {phase} step {step.label}"
                if run.timed_out:
                    return (
                        Result.TIMED_OUT,
                        f"{phase} step {step.label} hit the job timeout ({timeout:.1f} s)",
                    )
                if run.returncode != 0:
                    return failed, f"{phase} step {step.label} {_exit_text(run.returncode)}"
        return Result.SUCCESS, ""

    async def _push(self, conn: asyncssh.SSHClientConnection) -> None:
        self.s.console.note(f"osci: pushing the workspace to {self.node}:{self.remote}")
        env_sh = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in self._env().items())
        with tempfile.TemporaryDirectory(prefix="osci-push-") as tmp:
            archive = Path(tmp) / "push.tar"
            await asyncio.to_thread(_pack, archive, self.s.workspace, env_sh, self.s.vars_file)
            remote = shlex.quote(self.remote)
            result = await conn.run(
                f"rm -rf {remote} && mkdir -p {remote} && tar -C {remote} -xf -",
                stdin=str(archive),
                encoding=None,
            )
        if result.exit_status != 0:
            raise NodeFailure(self.node, f"could not unpack the workspace: {_text(result.stderr)}")

    # -- steps --------------------------------------------------------------------------------

    def _command(self, step: Step) -> str | None:
        ws = f"{self.remote}/ws"
        if step.script is not None:
            argv = ["bash", "-e", "-o", "pipefail", "-c", step.script]
        else:
            local = self.s.workspace / (step.path or "")
            if not local.is_file():
                return None
            path = f"{ws}/{step.path}"
            argv = [path] if os.access(local, os.X_OK) else ["bash", path]
        pidfile = f"{self.remote}/.osci/step.pid"
        launcher = 'echo $$ > "$0"; exec "$@"'
        return (
            f"cd {shlex.quote(ws)} && set -a && . {shlex.quote(self.remote + '/.osci/env.sh')} && set +a && "
            f"exec setsid -w bash -c {shlex.quote(launcher)} {shlex.quote(pidfile)} "
            + " ".join(shlex.quote(a) for a in argv)
            + " </dev/null 2>&1"
        )

    async def _step(
        self,
        conn: asyncssh.SSHClientConnection,
        phase: str,
        step: Step,
        deadline: float | None,
        cancellable: bool,
    ) -> PhaseRun | None:
        console = self.s.console
        console.note(f"osci: ===== {phase}: {step.label} ({self.node}) =====")
        command = self._command(step)
        if command is None:
            console.note(f"osci: {phase} step {step.label}: file not found in the workspace")
            self.phases.append(PhaseRun(phase, step.label, None, 0.0))
            return None
        start = time.monotonic()
        process = await conn.create_process(command, encoding=None)
        splitter = LineSplitter()

        async def pump() -> None:
            while True:
                data = await process.stdout.read(CHUNK)
                if not data:
                    break
                console.lines(splitter.feed(data))
            console.lines(splitter.flush())

        reader = asyncio.create_task(pump())
        timed_out = aborted = False
        while not reader.done():
            await asyncio.wait({reader}, timeout=0.2)
            if reader.done():
                break
            if deadline is not None and time.monotonic() >= deadline:
                timed_out = True
            elif cancellable and self.cancelled():
                aborted = True
            if timed_out or aborted:
                await self._kill_step(conn)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(asyncio.shield(reader), KILL_GRACE + 3)
                break
        if not reader.done():
            reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader  # raises the connection's error, if it was lost
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(process.wait_closed(), 5)
        if process.exit_status is None and process.exit_signal is None and not (timed_out or aborted):
            raise NodeFailure(self.node, f"connection lost during {phase} step {step.label}")
        returncode = process.exit_status
        if process.exit_signal is not None:
            returncode = -_signal_number(process.exit_signal[0])
        duration = time.monotonic() - start
        run = PhaseRun(phase, step.label, returncode, duration, timed_out, aborted)
        self.phases.append(run)
        if timed_out:
            console.note(f"osci: {phase} step {step.label} timed out after {duration:.1f} s: killed")
        elif aborted:
            console.note(f"osci: {phase} step {step.label} cancelled after {duration:.1f} s: killed")
        else:
            console.note(f"osci: {phase} step {step.label} {_exit_text(returncode)} after {duration:.1f} s")
        return run

    async def _kill_step(self, conn: asyncssh.SSHClientConnection) -> None:
        pidfile = shlex.quote(f"{self.remote}/.osci/step.pid")
        await conn.run(
            f'p=$(cat {pidfile} 2>/dev/null) && [ -n "$p" ] && '
            f'{{ kill -TERM -- -"$p" 2>/dev/null; sleep {KILL_GRACE}; kill -KILL -- -"$p" 2>/dev/null; }}; true'
        )

    async def _post_run(self, conn: asyncssh.SSHClientConnection, aborted: bool) -> list[str]:
        job = self.s.request.job
        limit = job.post_timeout if job.post_timeout is not None else DEFAULT_POST_TIMEOUT
        if aborted or self.cancelled():
            limit = min(limit, CANCEL_POST_TIMEOUT)
        deadline = time.monotonic() + limit
        failures: list[str] = []
        for step in job.post_run:
            run = await self._step(conn, "post-run", step, deadline, cancellable=False)
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

    # -- results back, nothing left behind ----------------------------------------------------

    async def _bring_back(self, conn: asyncssh.SSHClientConnection) -> None:
        job = self.s.request.job
        command = _bring_back_script(self.remote, [*job.test_results, *job.metrics])
        with tempfile.TemporaryDirectory(prefix="osci-back-") as tmp:
            archive = Path(tmp) / "back.tar"
            result = await conn.run(
                f"bash -c {shlex.quote(command)}", stdout=str(archive), stderr=asyncssh.PIPE, encoding=None
            )
            if result.exit_status != 0:
                self.s.console.note(f"osci: bringing results back from {self.node}: {_text(result.stderr)}")
            if archive.exists() and archive.stat().st_size:
                await asyncio.to_thread(_unpack, archive, self.s.request.build_dir, self.s.workspace)

    async def _cleanup(self, conn: asyncssh.SSHClientConnection) -> None:
        script = _cleanup_script(self.s.marker, self.remote, keep=self.s.request.keep_workspace)
        result = await conn.run(f"bash -c {shlex.quote(script)}", encoding="utf-8", errors="replace")
        for line in str(result.stdout or "").splitlines():
            self.s.console.note(f"osci: {self.node}: {line}")


def _cleanup_script(marker: str, remote: str, keep: bool = False) -> str:
    """Kill every process carrying the attempt's marker, then remove its folder (unless kept)."""
    needle = shlex.quote(f"{MARKER_VAR}={marker}")
    remove = "" if keep else f"rm -rf {shlex.quote(remote)}"
    return (
        "n=0; for d in /proc/[0-9]*; do "
        f'if tr "\\0" "\\n" < "$d/environ" 2>/dev/null | grep -qx {needle}; then '
        'kill -KILL "${d#/proc/}" 2>/dev/null && n=$((n+1)); fi; done; '
        f'[ "$n" -gt 0 ] && echo "killed $n process(es) left behind by the steps"; {remove}; true'
    )


def _bring_back_script(remote: str, patterns: list[str]) -> str:
    """bash writing a tar of the attempt's logs, artifacts and the workspace files matching
    `patterns` (test results, metrics) to stdout; `_unpack` reads it (also used by containers)."""
    words = " ".join(_glob_word(p) for p in patterns)
    return (
        f"cd {shlex.quote(remote)} && shopt -s globstar nullglob dotglob && "
        f'files=(.osci/logs .osci/artifacts); cd ws && for f in {words}; do files+=(ws/"$f"); done; '
        f'cd .. && tar -cf - "${{files[@]}}"'
    )


def _glob_word(pattern: str) -> str:
    """A test-results pattern as a bash glob word (globstar): literal parts quoted, wildcards not."""
    return "".join(
        part if part in ("*", "**", "?") else shlex.quote(part) for part in _GLOB.split(pattern) if part
    )


_GLOB = re.compile(r"(\*\*|\*|\?)")


def _pack(archive: Path, workspace: Path, env_sh: str, vars_file: Path) -> None:
    with tarfile.open(archive, "w") as tar:
        tar.add(str(workspace), arcname="ws")
        for name, data in ((".osci/env.sh", env_sh.encode()), (".osci/vars.json", vars_file.read_bytes())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o600
            tar.addfile(info, io.BytesIO(data))
        for folder in (".osci/logs", ".osci/artifacts"):
            info = tarfile.TarInfo(folder)
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            tar.addfile(info)


def _unpack(archive: Path, build_dir: Path, workspace: Path) -> None:
    targets = (
        (".osci/logs/", build_dir / "logs"),
        (".osci/artifacts/", build_dir / "artifacts"),
        ("ws/", workspace),
    )
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            for prefix, target in targets:
                if member.name.startswith(prefix) and len(member.name) > len(prefix):
                    member.name = member.name[len(prefix) :]
                    tar.extract(member, target, filter="data")
                    break


def _text(data: object) -> str:
    if isinstance(data, bytes):
        return data.decode("utf-8", "replace").strip()
    return str(data or "").strip()


def _signal_number(name: str) -> int:
    import signal

    with contextlib.suppress(AttributeError):
        return int(getattr(signal, f"SIG{name}"))
    return 1


def _exit_text(returncode: int | None) -> str:
    if returncode is None:
        return "did not exit"
    if returncode < 0:
        return f"was killed by signal {-returncode}"
    return f"exited with {returncode}"
