"""Run one step's process: its own session, stdin closed, output streamed to the console.

The step's main process is watched together with the deadline and the cancel
event; on either, its whole tree is killed. When the main process exits, what is
left in the pipe is drained briefly. A daemon the step started may still hold the
pipe open: the pipe is then handed to a `Leftovers` reader that keeps copying its
output to the console in the background (so the daemon never gets SIGPIPE) until
the attempt ends and kills it. Nothing here ever blocks on a pipe.
"""

from __future__ import annotations

import contextlib
import errno
import os
import selectors
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from osci.executor import proctree
from osci.executor.console import Console, LineSplitter

CHUNK = 64 * 1024
DRAIN_SECONDS = 0.5  # after the main process exits, read what is left for at most this long
KILL_GRACE = 2.0  # seconds between SIGTERM and SIGKILL


@dataclass
class StepOutcome:
    returncode: int | None
    duration: float
    timed_out: bool = False
    aborted: bool = False
    error: str = ""  # the step could not be started at all


class Leftovers:
    """Background readers of pipes still held open by daemons after their step ended."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def adopt(self, fd: int, splitter: LineSplitter) -> None:
        thread = threading.Thread(target=self._read, args=(fd, splitter), daemon=True, name="osci-leftover")
        thread.start()
        self._threads.append(thread)

    def _read(self, fd: int, splitter: LineSplitter) -> None:
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            try:
                stop_by: float | None = None
                while True:
                    stopping = self._stop.is_set()
                    if stopping and stop_by is None:
                        stop_by = time.monotonic() + DRAIN_SECONDS
                    if stop_by is not None and time.monotonic() >= stop_by:
                        break  # a writer that escaped the kill keeps writing: stop anyway
                    if not sel.select(0 if stopping else 0.2):
                        if stopping:
                            break
                        continue
                    data = os.read(fd, CHUNK)
                    if not data:
                        break
                    self._console.lines(splitter.feed(data))
            except OSError:
                pass
            finally:
                self._console.lines(splitter.flush())
                os.close(fd)

    def close(self, timeout: float = 1.0) -> None:
        """Stop reading (call after the daemons were killed: their pipes are then at EOF)."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()


def _spawn(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        close_fds=True,
    )


def start(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start the step; an executable without a shebang line is run with bash, as a shell would."""
    try:
        return _spawn(argv, cwd, env)
    except OSError as exc:
        if exc.errno == errno.ENOEXEC:
            return _spawn(["bash", *argv], cwd, env)
        raise


def run_step(
    argv: list[str],
    cwd: Path,
    env: dict[str, str],
    console: Console,
    leftovers: Leftovers,
    marker: str,
    deadline: float | None = None,
    cancel: threading.Event | None = None,
) -> StepOutcome:
    """Run one process to its end, its deadline (monotonic clock) or cancellation."""
    began = time.monotonic()
    try:
        proc = start(argv, cwd, env)
    except OSError as exc:
        return StepOutcome(None, time.monotonic() - began, error=f"could not start: {exc.strerror or exc}")
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    splitter = LineSplitter()
    outcome = StepOutcome(None, 0.0)
    eof = False
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while proc.poll() is None:
            if cancel is not None and cancel.is_set():
                outcome.aborted = True
                break
            if deadline is not None and time.monotonic() >= deadline:
                outcome.timed_out = True
                break
            if eof:
                _wait_briefly(proc)
            elif sel.select(0.1):
                data = os.read(fd, CHUNK)
                if data:
                    console.lines(splitter.feed(data))
                else:
                    eof = True
        if outcome.aborted or outcome.timed_out:
            proctree.kill_tree(proc.pid, marker, grace=KILL_GRACE)
        outcome.returncode = proc.wait()
        if not eof:
            eof = _drain(sel, fd, splitter, console)
    console.lines(splitter.flush())
    if eof:
        proc.stdout.close()
    else:
        leftovers.adopt(os.dup(fd), LineSplitter())
        proc.stdout.close()
    outcome.duration = time.monotonic() - began
    return outcome


def _wait_briefly(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(0.1)


def _drain(sel: selectors.BaseSelector, fd: int, splitter: LineSplitter, console: Console) -> bool:
    """Read what is left in the pipe for a short while; True when the pipe reached EOF."""
    until = time.monotonic() + DRAIN_SECONDS
    while time.monotonic() < until:
        if not sel.select(0.05):
            return False  # quiet: whoever still holds the pipe is a leftover
        data = os.read(fd, CHUNK)
        if not data:
            return True
        console.lines(splitter.feed(data))
    return False
