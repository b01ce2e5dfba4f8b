"""`osci agent`: a machine that pulls builds from the server and runs them with the executor.

The main thread registers and polls (each poll is the agent's heartbeat); each attempt runs in
its own thread: download the workspace, run the attempt with `executor.attempt.run_attempt`,
upload logs, artifacts and result files, report the attempt. Console lines are streamed by one
background thread in numbered batches, resent after network errors (the server drops repeats).

Faults: while the server cannot be reached the agent keeps running its attempts and keeps
trying; attempts the server gave up on meanwhile are abandoned (killed, nothing uploaded).
SIGTERM: no new work, the running attempts finish and are reported, then the agent leaves;
a second SIGTERM (or SIGINT) cancels them (post-run still runs). A revoked token stops it.
What an agent killed with SIGKILL left running is killed when it starts again.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import tarfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from osci import __version__
from osci.agent.client import AgentClient, Gone, Refused, Unreachable
from osci.agent.unpack import UnsafeArchive, unpack
from osci.executor import BuildRequest
from osci.executor.attempt import AttemptSetup, run_attempt
from osci.executor.console import Console
from osci.executor.env import write_vars_file
from osci.executor.proctree import kill_tree, survivors
from osci.model.job import job_from_dict

log = logging.getLogger("osci.agent")
BATCH_LINES = 2000
BATCH_BYTES = 512 * 1024
MAX_BUFFERED = 200_000  # console lines kept while the server cannot be reached
STREAM_INTERVAL = 0.2
STREAM_DELAY = 0.5  # console lines wait this long for more: a short attempt's all go with its report
RETRY = 1.0
EXIT_REFUSED = 3


class ConsoleStream:
    """The console lines of one attempt not yet acknowledged by the server."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.lock = threading.Lock()
        self.seq = 0
        self.dropped = 0
        self.in_flight: tuple[int, list[str]] | None = None  # resent as is until acknowledged
        self.closed: tuple[int, list[str]] | None = None  # the last batch, sent with the report
        self.since = 0.0  # when the oldest line not yet sent arrived (monotonic)

    def add(self, line: str) -> None:
        with self.lock:
            if len(self.lines) >= MAX_BUFFERED:
                self.dropped += 1
                return
            if not self.lines:
                self.since = time.monotonic()
            self.lines.append(line)

    def next_batch(self, delay: float = 0.0) -> tuple[int, list[str]] | None:
        """The batch to send now: the one in flight again, else the lines waiting for at least
        `delay` seconds (or enough of them for a full batch)."""
        with self.lock:
            if self.in_flight is not None:
                return self.in_flight
            if self.closed is not None:
                return None
            if delay and time.monotonic() - self.since < delay and len(self.lines) < BATCH_LINES:
                return None
            self._note_dropped()
            if not self.lines:
                return None
            count, size = 0, 0
            for line in self.lines:
                if count >= BATCH_LINES or (count and size + len(line) > BATCH_BYTES):
                    break
                size += len(line)
                count += 1
            batch, self.lines = self.lines[:count], self.lines[count:]
            self.seq += 1
            self.in_flight = (self.seq, batch)
            return self.in_flight

    def _note_dropped(self) -> None:
        """Under the lock: say in the log how many lines were dropped meanwhile, if any."""
        if self.dropped:
            self.lines.append(f"osci agent: {self.dropped} console line(s) dropped while the server was unreachable")
            self.dropped = 0

    def acknowledged(self) -> None:
        with self.lock:
            self.in_flight = None

    def last_batch(self) -> tuple[int, list[str]] | None:
        """The lines left, as the batch that travels with the attempt's report (one request
        fewer per build); None while a batch is in flight or more than one batch is left (the
        streaming thread sends those first). After it, `next_batch` has nothing more."""
        with self.lock:
            if self.closed is not None:
                return self.closed
            if self.in_flight is not None:
                return None
            if len(self.lines) > BATCH_LINES or sum(len(line) for line in self.lines) > BATCH_BYTES:
                return None
            self._note_dropped()
            self.seq += 1
            self.closed = (self.seq, self.lines)
            self.lines = []
            return self.closed


class Work:
    """One attempt the server handed to this agent."""

    def __init__(self, payload: dict[str, Any], root: Path) -> None:
        self.payload = payload
        self.id: str = payload["id"]
        self.dir = root / self.id
        self.cancel = threading.Event()
        self.abandoned = threading.Event()
        self.stream = ConsoleStream()
        self.done = threading.Event()
        self.reported = threading.Event()  # the server has its result: no longer "running"
        self.thread: threading.Thread | None = None

    def abandon(self) -> None:
        self.abandoned.set()
        self.cancel.set()


class Agent:
    def __init__(
        self,
        server: str,
        token: str,
        label: str,
        provides: list[str],
        slots: int = 1,
        workdir: Path | None = None,
        keep: bool = False,
        say: Callable[[str], None] = print,
    ) -> None:
        self.client = AgentClient(server, token)
        self.server = server
        self.label = label
        self.provides = provides
        self.slots = max(1, slots)
        self.workdir = (workdir or Path("osci-agent")).absolute()
        self.keep = keep
        self.say = say
        self.works: dict[str, Work] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.finished = threading.Event()
        self.name = ""
        self.poll_wait = 10.0

    # -- life cycle ---------------------------------------------------------------------------

    def install_signals(self) -> None:
        def on_term(signum: int, frame: Any) -> None:
            if self.stopping.is_set():
                self.say("osci agent: stopping now: cancelling the running attempts")
                with self.lock:
                    for work in self.works.values():
                        work.cancel.set()
            else:
                self.say("osci agent: stopping: finishing the running attempts (send the signal again to cancel them)")
                self.stopping.set()

        signal.signal(signal.SIGTERM, on_term)
        signal.signal(signal.SIGINT, on_term)

    def run(self) -> int:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._sweep()
        streamer = threading.Thread(target=self._stream_loop, name="osci-agent-console", daemon=True)
        streamer.start()
        try:
            return self._main()
        except Refused as exc:
            self.say(f"osci agent: the server refused this agent: {exc}")
            with self.lock:
                for work in self.works.values():
                    work.abandon()
            return EXIT_REFUSED
        finally:
            self.finished.set()
            self._join_works(30.0)
            self.client.close()

    def _main(self) -> int:
        self._register()
        backoff = RETRY
        while True:
            with self.lock:
                running = [w.id for w in self.works.values() if not (w.done.is_set() or w.reported.is_set())]
                for work_id in [i for i, w in self.works.items() if w.done.is_set()]:
                    del self.works[work_id]
            if self.stopping.is_set() and not running:
                with contextlib.suppress(Unreachable, Gone):
                    self.client.deregister()
                self.say(f"osci agent: {self.name} stopped")
                return 0
            try:
                reply = self.client.poll(running, self.stopping.is_set(), self.poll_wait)
                backoff = RETRY
            except Unreachable as exc:
                log.warning("the server cannot be reached: %s", exc)
                time.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            except Gone:
                self.say("osci agent: the server does not know this session (it restarted?): registering again")
                self._register()
                continue
            self._act(reply)

    def _register(self) -> None:
        backoff = RETRY
        while True:
            try:
                doc = self.client.register(self.label, self.provides, self.slots, __version__, socket.gethostname())
                break
            except (Unreachable, Gone) as exc:
                self.say(f"osci agent: cannot register with {self.server} ({exc}); retrying")
                time.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
                if self.stopping.is_set():
                    raise SystemExit(0) from None
        self.name = doc["agent"]
        self.poll_wait = float(doc.get("poll_wait") or self.poll_wait)
        self.say(
            f"osci agent: registered with {self.server} as {self.name} "
            f"(label {self.label}, provides {','.join(self.provides) or 'nothing'}, {self.slots} slot(s))"
        )

    def _act(self, reply: dict[str, Any]) -> None:
        with self.lock:
            for work_id in reply.get("abandon") or []:
                work = self.works.get(work_id)
                if work is not None:
                    self._abandon(work)
            for work_id in reply.get("cancel") or []:
                work = self.works.get(work_id)
                if work is not None:
                    work.cancel.set()
            for payload in reply.get("work") or []:
                if payload["id"] in self.works:
                    continue
                work = Work(payload, self.workdir)
                self.works[work.id] = work
                work.thread = threading.Thread(target=self._run_work, args=(work,), name=f"osci-{work.id}", daemon=True)
                work.thread.start()

    def _abandon(self, work: Work) -> None:
        if not work.abandoned.is_set() and not work.reported.is_set():
            self.say(f"osci agent: {work.id}: the server gave it up: abandoning it")
            work.abandon()

    def _join_works(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for work in list(self.works.values()):
            if work.thread is not None:
                work.thread.join(max(0.0, deadline - time.monotonic()))

    # -- one attempt --------------------------------------------------------------------------

    def _run_work(self, work: Work) -> None:
        try:
            report = self._attempt(work)
            if not work.abandoned.is_set():
                self._deliver(work, report)
        except Exception as exc:  # noqa: BLE001 - an agent bug must not kill the agent
            log.exception("attempt %s failed in the agent", work.id)
            if not work.abandoned.is_set():
                self._deliver(work, {"result": "ERROR", "reason": f"osci agent: {exc!r}"}, results=False)
        finally:
            if not self.keep:
                shutil.rmtree(work.dir, ignore_errors=True)
            work.done.set()

    def _attempt(self, work: Work) -> dict[str, Any]:
        p = work.payload
        work.dir.mkdir(parents=True, exist_ok=True)
        (work.dir / "marker").write_text(p["marker"])
        ws, build_dir = work.dir / "ws", work.dir / "build"
        for sub in ("logs", "artifacts"):
            (build_dir / sub).mkdir(parents=True, exist_ok=True)
        console = Console(build_dir / "job-output.txt", work.stream.add)
        try:
            console.note(f"osci agent {self.name}: attempt {p['attempt']} of build {p['build']}")
            archive = work.dir / "ws.tar"
            try:
                inline = p.get("workspace_tar")
                if inline is not None:  # a small workspace comes with the assignment
                    archive.write_bytes(base64.b64decode(inline, validate=True))
                else:
                    self._retry(work, lambda: self.client.download_workspace(work.id, archive))
                unpack(archive, ws, prefix="ws/")
                archive.unlink()
            except (tarfile.TarError, OSError, UnsafeArchive, binascii.Error) as exc:
                console.note(f"osci agent: the workspace could not be unpacked: {exc}")
                return {"result": "ERROR", "reason": f"agent {self.name}: workspace: {exc}"}
            if work.abandoned.is_set():
                return {"result": "ABORTED", "reason": "abandoned"}
            job = job_from_dict(p["job"])
            env = dict(p.get("env") or {})
            env["OSCI_NODE"] = str(p.get("node") or self.name)
            env["OSCI_NODES"] = json.dumps(p.get("nodes") or {})
            request = BuildRequest(
                job=job,
                build_dir=build_dir,
                source=ws,
                ref=p.get("ref"),
                project=p.get("project") or "",
                branch=p.get("branch"),
                change=p.get("change"),
                uuid=p["build"],
                extra_env=env,
                prepared=True,
            )
            variables = p.get("variables") or {}
            vars_file = build_dir / "vars.json"
            write_vars_file(vars_file, variables)
            setup = AttemptSetup(request, int(p["attempt"]), ws, variables, vars_file, console, work.cancel, p["marker"])
            attempt = run_attempt(setup)
            self._pack_results(work, job, ws, build_dir)
            return {
                "result": str(attempt.result),
                "reason": attempt.reason,
                "phases": [phase.to_dict() for phase in attempt.phases],
            }
        finally:
            console.close()

    def _pack_results(self, work: Work, job: Any, ws: Path, build_dir: Path) -> None:
        """logs/, artifacts/ and the result files into results.tar; no archive (and no upload)
        when there is none of them."""
        files: dict[Path, str] = {}
        for pattern in [*job.test_results, *job.metrics]:
            with contextlib.suppress(ValueError, OSError):
                for path in sorted(ws.glob(pattern)):
                    if path.is_file() and not path.is_symlink():
                        files.setdefault(path, f"ws/{path.relative_to(ws).as_posix()}")
        folders = [sub for sub in ("logs", "artifacts") if any((build_dir / sub).iterdir())]
        if not files and not folders:
            return
        with tarfile.open(work.dir / "results.tar", "w") as tar:
            for sub in folders:
                tar.add(str(build_dir / sub), arcname=sub)
            for path, name in files.items():
                tar.add(str(path), arcname=name)

    def _deliver(self, work: Work, report: dict[str, Any], results: bool = True) -> None:
        """The results, then the attempt with the console's last lines: each retried until the
        server answers, unless it gives the attempt up (409 or an abandon in a poll). Console
        lines still being streamed go first, so the log keeps its order."""
        deadline = time.monotonic() + 60
        last = work.stream.last_batch()
        while last is None and not work.abandoned.is_set() and time.monotonic() < deadline:
            time.sleep(0.02)
            last = work.stream.last_batch()
        try:
            archive = work.dir / "results.tar"
            if results and archive.exists():
                self._retry(work, lambda: self.client.upload_results(work.id, archive))
            self._retry(work, lambda: self.client.finish(work.id, report, last))
            work.reported.set()
        except Gone as exc:
            self.say(f"osci agent: {work.id}: not reported ({exc})")

    def _retry(self, work: Work, call: Callable[[], Any]) -> Any:
        backoff = RETRY
        while True:
            if work.abandoned.is_set():
                raise Gone("abandoned")
            try:
                return call()
            except Unreachable as exc:
                log.warning("%s: %s; retrying", work.id, exc)
                time.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    # -- console streaming --------------------------------------------------------------------

    def _stream_loop(self) -> None:
        while not self.finished.is_set():
            with self.lock:
                works = list(self.works.values())
            sent = False
            for work in works:
                if work.abandoned.is_set():
                    continue
                batch = work.stream.next_batch(STREAM_DELAY)
                if batch is None:
                    continue
                try:
                    answer = self.client.console(work.id, batch[0], batch[1])
                except Unreachable:
                    continue
                except Gone:
                    self._abandon(work)
                    continue
                except Refused:
                    continue  # the poll loop stops the agent
                work.stream.acknowledged()
                sent = True
                if answer.get("cancel"):
                    work.cancel.set()
            if not sent:
                time.sleep(STREAM_INTERVAL)

    # -- leftovers of a killed agent ----------------------------------------------------------

    def _sweep(self) -> None:
        """Kill what attempts of an earlier run of this agent left running; remove their folders."""
        for folder in sorted(self.workdir.iterdir()):
            marker_file = folder / "marker"
            if folder.is_dir() and marker_file.is_file():
                marker = marker_file.read_text().strip()
                left = survivors(marker) if marker else []
                if left:
                    self.say(f"osci agent: killing {len(left)} process(es) left by {folder.name} (an earlier run)")
                    kill_tree(None, marker, grace=1.0)
                shutil.rmtree(folder, ignore_errors=True)


def default_workdir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "osci-agent"
