"""Run drop-in test processes, N at a time, with as little work per test as possible.

With -j1, one thread and one `poll()` on the child's pidfd. With -jN, N threads, each
running one test at a time: `posix_spawn` releases the GIL while the kernel starts the
child, which is most of the cost of a trivial test, so N threads start N children at
once where one loop would start them one after the other. Per test, on the normal path: one `posix_spawn` into its own session (see `droptest_spawn`), one wake-up when it exits,
one `killpg` of its group (before reaping, so the zombie leader keeps the group id
from being reused), one `waitpid`, one `fstat` of its output file. Output goes to an
unlinked temporary file, never through a pipe, so there is nothing to read while
the test runs; only the last `tail_bytes` are read afterwards.

`/proc` is scanned only after a timeout (by `proctree.kill_tree`, in a helper thread
so other tests keep running) and once at the end of the run, for processes that
escaped their group (`setsid`, double fork) and still carry one of this run's markers.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import select
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from osci.executor.droptest_spawn import Child, CwdLease, Spawner
from osci.executor.proctree import MARKER_VAR, kill_tree

TAIL_BYTES = 64 * 1024
KILL_GRACE = 2.0  # seconds between SIGTERM and SIGKILL for a test that timed out
SKIP_CODE = 77  # the automake convention


@dataclass
class Job:
    """One run of one test (a test may run several times: variants, --repeat)."""

    name: str
    path: str
    timeout: float
    env: dict[str, str] = field(default_factory=dict)  # added to os.environ
    key: Any = None  # the caller's own reference, handed back with the outcome


@dataclass
class Outcome:
    returncode: int | None  # negative: killed by that signal; None: could not be started
    duration: float
    timed_out: bool = False
    output_tail: str = ""
    output_size: int = 0
    start_error: str = ""

    @property
    def status(self) -> str:
        if self.returncode == 0 and not self.timed_out:
            return "passed"
        if self.returncode == SKIP_CODE and not self.timed_out:
            return "skipped"
        return "failed"

    def reason(self, timeout: float) -> str:
        if self.start_error:
            return self.start_error
        if self.timed_out:
            return f"timed out after {_seconds(timeout)}s"
        if self.returncode == 0:
            return ""
        if self.returncode == SKIP_CODE:
            last = _last_line(self.output_tail)
            return last or f"exit status {SKIP_CODE}"
        if self.returncode is not None and self.returncode < 0:
            try:
                return f"killed by {signal.Signals(-self.returncode).name}"
            except ValueError:
                return f"killed by signal {-self.returncode}"
        return f"exit status {self.returncode}"


@dataclass
class _Running:
    job: Job
    child: Child
    outfd: int
    marker: str
    start: float
    deadline: float
    killer: threading.Thread | None = None


class Runner:
    """Runs jobs `jobs` at a time and reports each outcome through `on_done` as it ends."""

    def __init__(
        self,
        jobs: int = 1,
        tail_bytes: int = TAIL_BYTES,
        kill_grace: float = KILL_GRACE,
        fast_spawn: bool = True,
        use_pidfd: bool = True,
    ) -> None:
        """`fast_spawn` and `use_pidfd` choose the fast ways when available; off, the portable ones."""
        if jobs < 1:
            raise ValueError("jobs must be at least 1")
        self.jobs = jobs
        self.tail_bytes = tail_bytes
        self.kill_grace = kill_grace
        self.run_id = os.urandom(8).hex()
        self.markers: dict[str, str] = {}  # marker -> test name, to name the owner of a straggler
        self.stragglers: list[str] = []  # names of tests that left processes behind
        self._base_env = dict(os.environ)
        self._tmpdir = os.environ.get("TMPDIR") or "/tmp"
        self._free_outputs: list[tuple[int, int]] = []  # (descriptor, size of what it holds)
        self._all_outputs = 0
        self._seq = 0
        self._spawner = Spawner(fast_spawn, lease=CwdLease() if jobs > 1 else None)
        self._use_pidfd = use_pidfd
        self._lock = threading.Lock()  # the state above, shared by the -jN threads

    def run(self, jobs: Iterable[Job], on_done: Callable[[Job, Outcome], None]) -> None:
        if self.jobs > 1:
            self._run_threads(deque(jobs), on_done)
            return
        pending = deque(jobs)
        running: dict[int, _Running] = {}  # pid -> run
        killing: list[_Running] = []
        waiter = _ExitWaiter(self._use_pidfd)
        self._spawner.__enter__()
        try:
            while pending or running or killing:
                while pending and len(running) + len(killing) < self.jobs:
                    job = pending.popleft()
                    started = self._start(job)
                    if isinstance(started, Outcome):
                        on_done(job, started)
                        continue
                    running[started.child.pid] = started
                    waiter.add(started.child.pid)
                if not running and not killing:
                    continue
                for pid in waiter.wait(self._wait_seconds(running, killing)):
                    entry = running.pop(pid)
                    on_done(entry.job, self._finish(entry, time.monotonic(), timed_out=False))
                now = time.monotonic()
                for pid in [pid for pid, entry in running.items() if entry.deadline <= now]:
                    entry = running.pop(pid)
                    waiter.remove(pid)
                    entry.killer = threading.Thread(
                        target=kill_tree, args=(pid, entry.marker, self.kill_grace), daemon=True
                    )
                    entry.killer.start()
                    killing.append(entry)
                for entry in [entry for entry in killing if not entry.killer.is_alive()]:
                    killing.remove(entry)
                    on_done(entry.job, self._finish(entry, entry.deadline, timed_out=True))
        finally:
            self._spawner.__exit__()
            waiter.close()
            self._abandon(list(running.values()) + killing)
            self._sweep()
            while self._free_outputs:
                os.close(self._free_outputs.pop()[0])

    def _run_threads(self, pending: deque[Job], on_done: Callable[[Job, Outcome], None]) -> None:
        live: dict[int, _Running] = {}
        failures: list[BaseException] = []
        stop = threading.Event()

        def worker() -> None:
            waiter = _ExitWaiter(self._use_pidfd)
            try:
                while not stop.is_set():
                    with self._lock:
                        if not pending:
                            return
                        job = pending.popleft()
                    started = self._start(job)
                    if isinstance(started, Outcome):
                        with self._lock:
                            on_done(job, started)
                        continue
                    pid = started.child.pid
                    with self._lock:
                        live[pid] = started
                    waiter.add(pid)
                    exited = False
                    while not exited:
                        remaining = started.deadline - time.monotonic()
                        if remaining <= 0 or stop.is_set():
                            break
                        exited = bool(waiter.wait(remaining))
                    if exited:
                        outcome = self._finish(started, time.monotonic(), timed_out=False)
                    else:
                        waiter.remove(pid)
                        kill_tree(pid, started.marker, self.kill_grace if not stop.is_set() else 0.5)
                        outcome = self._finish(started, started.deadline, timed_out=not stop.is_set())
                    with self._lock:
                        live.pop(pid, None)
                        if not stop.is_set():
                            on_done(job, outcome)
            except BaseException as exc:  # a failing callback stops the run, as with -j1
                failures.append(exc)
                stop.set()
            finally:
                waiter.close()

        self._spawner.__enter__()
        threads = [
            threading.Thread(target=worker, name=f"osci-test-{n}", daemon=True) for n in range(self.jobs)
        ]
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                while thread.is_alive():
                    thread.join(0.2)
        except BaseException:
            stop.set()  # Ctrl-C: the workers kill what they run and stop
            for thread in threads:
                thread.join()
            raise
        finally:
            self._spawner.__exit__()
            self._sweep()
            while self._free_outputs:
                os.close(self._free_outputs.pop()[0])
        if failures:
            raise failures[0]

    def _wait_seconds(self, running: dict[int, _Running], killing: list[_Running]) -> float:
        wait = min((entry.deadline for entry in running.values()), default=time.monotonic() + 1.0)
        wait -= time.monotonic()
        if killing:
            wait = min(wait, 0.02)  # look at the killer threads often
        return max(0.0, wait)

    def _start(self, job: Job) -> _Running | Outcome:
        with self._lock:
            self._seq += 1
            marker = f"{self.run_id}-{self._seq}"
            self.markers[marker] = job.name
            outfd = self._output_file()
        env = self._base_env.copy()
        env.update(job.env)
        env[MARKER_VAR] = marker
        cwd = os.path.dirname(job.path) or "."
        start = time.monotonic()
        try:
            child = self._spawner.spawn([job.path], cwd, env, outfd)
        except OSError as exc:
            if exc.errno != errno.ENOEXEC:
                os.close(outfd)
                return Outcome(None, time.monotonic() - start, start_error=_start_error(exc))
            try:  # no #! line: run it with sh, as a shell does
                child = self._spawner.spawn(["/bin/sh", job.path], cwd, env, outfd)
            except OSError as exc2:
                os.close(outfd)
                return Outcome(None, time.monotonic() - start, start_error=_start_error(exc2))
        return _Running(job, child, outfd, marker, start, start + job.timeout)

    def _output_file(self) -> int:
        """A file for one test's output: a free one from an earlier test, emptied, or a new one.

        Files are reused because creating and deleting one per test costs up to a
        millisecond on some file systems (ext4 mounted with `discard`). They are
        opened with O_APPEND (so emptying them restarts the test's writes at 0) and
        unlinked at once (nothing to clean up, whatever happens to this process).
        """
        if self._free_outputs:
            fd, size = self._free_outputs.pop()
            if size:
                os.ftruncate(fd, 0)
            return fd
        name = os.path.join(self._tmpdir, f"osci-test-{self.run_id}-{self._all_outputs}")
        flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_APPEND
        fd = os.open(name, flags, 0o600)
        os.unlink(name)
        self._all_outputs += 1
        if fd < 3:  # osci was started with stdout or stderr closed: keep 0-2 free for the child
            fd, old = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3), fd
            os.close(old)
        return fd

    def _finish(self, entry: _Running, end: float, timed_out: bool) -> Outcome:
        pid = entry.child.pid
        _killpg(pid, signal.SIGKILL)  # whatever it left in its group
        returncode = entry.child.reap()
        size, tail = self._tail(entry.outfd)
        if timed_out:
            os.close(entry.outfd)  # something it started may still hold the file: never reuse it
        else:
            with self._lock:
                self._free_outputs.append((entry.outfd, size))
        return Outcome(returncode, end - entry.start, timed_out, tail, size)

    def _tail(self, fd: int) -> tuple[int, str]:
        size = os.fstat(fd).st_size
        if not size:
            return 0, ""
        count = min(size, self.tail_bytes)
        data = os.pread(fd, count, size - count)
        return size, data.decode("utf-8", errors="replace")

    def _abandon(self, entries: list[_Running]) -> None:
        """Interrupted (Ctrl-C, an error in a callback): kill and reap what still runs."""
        for entry in entries:
            if entry.killer is None:
                kill_tree(entry.child.pid, entry.marker, grace=0.5)
            else:
                entry.killer.join()
            entry.child.reap()
            os.close(entry.outfd)

    def _sweep(self) -> None:
        """One /proc scan at the end: kill processes that escaped their test's group."""
        left = _marked_pids(f"{MARKER_VAR}={self.run_id}-".encode())
        for marker in sorted(set(left.values())):
            kill_tree(None, marker, grace=0.5)
            name = self.markers.get(marker, marker)
            if name not in self.stragglers:
                self.stragglers.append(name)


class _ExitWaiter:
    """Wakes up when a child exits, without reaping it (so its group id stays reserved).

    With pidfds (Linux 5.3+) one `poll()` sleeps until a child exits or the timeout;
    on older kernels it falls back to checking each child with `waitid(WNOWAIT)`
    on a short, growing interval.
    """

    def __init__(self, use_pidfd: bool = True) -> None:
        self._use_pidfd = use_pidfd and hasattr(os, "pidfd_open")
        self._poller = select.poll()
        self._fds: dict[int, int] = {}  # pid -> pidfd
        self._pids: dict[int, int] = {}  # pidfd -> pid
        self._plain: set[int] = set()  # pids watched without a pidfd
        self._nap = 0.0001

    def add(self, pid: int) -> None:
        if not self._use_pidfd:
            self._plain.add(pid)
            return
        try:
            fd = os.pidfd_open(pid)
        except OSError:  # ENOSYS: a kernel older than 5.3
            self._use_pidfd = False
            self._plain.add(pid)
            return
        self._fds[pid] = fd
        self._pids[fd] = pid
        self._poller.register(fd, select.POLLIN)

    def remove(self, pid: int) -> None:
        self._plain.discard(pid)
        fd = self._fds.pop(pid, None)
        if fd is not None:
            del self._pids[fd]
            self._poller.unregister(fd)
            os.close(fd)

    def wait(self, timeout: float) -> list[int]:
        """Pids of watched children that have exited (no longer watched), waiting at most `timeout`."""
        if self._plain:
            exited = [pid for pid in self._plain if _has_exited(pid)]
            if not exited:
                time.sleep(min(timeout, self._nap))
                self._nap = min(self._nap * 2, 0.01)
                exited = [pid for pid in self._plain if _has_exited(pid)]
            if exited:
                self._nap = 0.0001
            timeout = 0.0
        else:
            exited = []
        for fd, _ in self._poller.poll(int(timeout * 1000) + (1 if timeout > 0 else 0)):
            exited.append(self._pids[fd])
        for pid in exited:
            self.remove(pid)
        return exited

    def close(self) -> None:
        for pid in list(self._fds):
            self.remove(pid)
        self._plain.clear()


def _has_exited(pid: int) -> bool:
    try:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True
    return info is not None


def _killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(OSError):
        os.killpg(pgid, sig)


def _marked_pids(prefix: bytes) -> dict[int, str]:
    """Live processes whose environment holds a marker that starts with `prefix` -> the marker."""
    found: dict[int, str] = {}
    me = os.getpid()
    try:
        entries = os.listdir("/proc")
    except OSError:
        return found
    for entry in entries:
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                environ = handle.read()
            if prefix not in environ:
                continue
            with open(f"/proc/{entry}/stat", "rb") as handle:
                state = handle.read().rsplit(b")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state == b"Z":
            continue
        for variable in environ.split(b"\0"):
            if variable.startswith(prefix):
                found[int(entry)] = variable.split(b"=", 1)[1].decode()
                break
    return found


def _start_error(exc: OSError) -> str:
    hint = ""
    if exc.errno == errno.ENOENT:
        hint = " (is the interpreter on its #! line installed?)"
    elif exc.errno == errno.EACCES:
        hint = " (is it executable, on a file system that allows running programs?)"
    return f"cannot start: {exc.strerror}{hint}"


def _last_line(text: str) -> str:
    for line in reversed(text.splitlines()):
        if line.strip():
            return line.strip()[:200]
    return ""


def _seconds(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:g}"
