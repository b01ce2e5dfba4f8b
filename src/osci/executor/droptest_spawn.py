"""Start one test process: its own session, stdin from /dev/null, stdout and stderr to a
file, the test's folder as its working directory.

Two ways, same result. `subprocess.Popen` spends about as much time in Python
(encoding ~80 environment variables per call, bookkeeping) as the kernel spends
starting the child; `os.posix_spawn` does that work in C, but cannot set the child's
working directory, so the parent changes its own around the call. That is only
safe while no other thread of this process could be using relative paths: the
fast way is taken only when this is the process's only thread, or when every other
thread is one of the runner's own spawning threads sharing a `CwdLease`: those hold
the lease while they spawn, so the directory only changes when none of them needs it
(for a folder of tests, which share one directory, it never does).
"""

from __future__ import annotations

import errno
import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import subprocess


@dataclass
class Child:
    pid: int
    popen: subprocess.Popen[Any] | None = None

    def reap(self) -> int:
        """Wait for the (already exited) child; its exit status, negative if killed by a signal."""
        if self.popen is not None:
            return self.popen.wait()
        _, status = os.waitpid(self.pid, 0)
        return os.waitstatus_to_exitcode(status)


class CwdLease:
    """Lets several threads spawn in the same working directory at once; a thread that needs
    another directory waits until no spawn is using the current one."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._current: str | None = None
        self._holders = 0

    def acquire(self, cwd: str) -> None:
        with self._cond:
            while self._holders and self._current != cwd:
                self._cond.wait()
            if self._current != cwd:
                os.chdir(cwd)
                self._current = cwd
            self._holders += 1

    def release(self) -> None:
        with self._cond:
            self._holders -= 1
            if not self._holders:
                self._cond.notify_all()

    def forget(self) -> None:
        """The process's directory was restored behind the lease's back."""
        with self._cond:
            self._current = None


class Spawner:
    def __init__(self, fast: bool = True, lease: CwdLease | None = None) -> None:
        self.fast = fast and hasattr(os, "posix_spawn") and hasattr(os, "fchdir")
        self.lease = lease  # set: spawning threads share the working directory through it
        self._here: int | None = None
        self._close: list[tuple] = []

    def __enter__(self) -> Spawner:
        if self.fast:
            self._here = os.open(".", os.O_RDONLY | os.O_CLOEXEC)
            # Popen closes inherited descriptors (close_fds); posix_spawn must be told which.
            self._close = [(os.POSIX_SPAWN_CLOSE, fd) for fd in _inheritable_fds() if fd > 2]
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._close_spawn_path()

    def spawn(self, argv: list[str], cwd: str, env: dict[str, str], outfd: int) -> Child:
        """Start `argv`; raises OSError if it cannot be executed (ENOEXEC: no #! line)."""
        if self._here is not None and self.lease is not None:
            self.lease.acquire(cwd)
            try:
                return self._posix_spawn(argv, None, env, outfd)
            finally:
                self.lease.release()
        if self._here is not None and threading.active_count() == 1:
            return self._posix_spawn(argv, cwd, env, outfd)
        import subprocess  # only here: the fast way does not need it

        popen = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=outfd,
            stderr=outfd,
            start_new_session=True,  # its own session and process group: pgid == pid
        )
        return Child(popen.pid, popen)

    def _posix_spawn(self, argv: list[str], cwd: str | None, env: dict[str, str], outfd: int) -> Child:
        """`cwd` None: the process is already in the right directory (the lease moved it)."""
        actions = [
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_DUP2, outfd, 1),
            (os.POSIX_SPAWN_DUP2, outfd, 2),
            *self._close,
        ]
        if cwd is not None:
            os.chdir(cwd)
        try:
            pid = os.posix_spawn(argv[0], argv, env, file_actions=actions, setsid=True)
        except OSError as exc:
            if exc.errno != errno.EBADF or self.lease is not None:
                raise
            # A descriptor listed at the start was closed since: stop second-guessing, use Popen.
            self._close_spawn_path()
            return self.spawn(argv, cwd or os.getcwd(), env, outfd)
        finally:
            if self._here is not None and cwd is not None:
                os.fchdir(self._here)
        return Child(pid)

    def _close_spawn_path(self) -> None:
        here, self._here = self._here, None
        if here is not None:
            os.fchdir(here)
            os.close(here)
            if self.lease is not None:
                self.lease.forget()


def _inheritable_fds() -> list[int]:
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return []
    fds = []
    for name in names:
        fd = int(name)
        try:
            if os.get_inheritable(fd):
                fds.append(fd)
        except OSError:
            continue  # the descriptor listdir itself used, now closed
    return fds
