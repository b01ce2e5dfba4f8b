"""bubblewrap for the `local` provider: each step in its own `bwrap` sandbox.

The machine's root is bound read-only, the attempt's workspace and build directory read-write,
/tmp is private, /proc and /dev are fresh, and the step gets its own PID namespace and session
(`--unshare-pid --die-with-parent --new-session`): a step cannot change the server's machine
outside its own folders, see the server's other processes, or outlive the attempt. The network
is shared (steps fetch dependencies). Standard library only: the configuration loader checks
`bwrap` with `bwrap_problem` and must not import the node package's heavier modules.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

BWRAP = "bwrap"
_BASE = [
    "--ro-bind", "/", "/",
    "--dev", "/dev",
    "--proc", "/proc",
    "--tmpfs", "/tmp",
    "--unshare-pid", "--die-with-parent", "--new-session",
]  # fmt: skip


def bwrap_problem() -> str | None:
    """Why bubblewrap cannot sandbox steps here (not installed, no namespaces), or None.
    Checked once per process: the configuration loader and every probe of the node ask."""
    return _bwrap_problem_cached()


@functools.lru_cache(maxsize=1)
def _bwrap_problem_cached() -> str | None:
    return check_bwrap()


def check_bwrap() -> str | None:
    """Run `true` in a sandbox shaped like a step's (uncached: a node probe asks again)."""
    path = shutil.which(BWRAP)
    if path is None:
        return "`bwrap` is not installed (Debian: apt-get install bubblewrap)"
    try:
        done = subprocess.run(
            [path, *_BASE, "true"], capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"`bwrap` does not run: {exc}"
    if done.returncode != 0:
        why = (done.stderr or done.stdout).strip() or f"exit status {done.returncode}"
        return f"`bwrap` cannot create a sandbox here: {why}"
    return None


def bubblewrap(workspace: Path, build_dir: Path) -> Callable[[list[str]], list[str]]:
    """The argv wrapper of one attempt's steps (AttemptSetup.wrap)."""
    binds: list[str] = []
    for folder in (build_dir, workspace):  # the workspace may lie inside the build dir's parent
        binds += ["--bind", str(folder), str(folder)]

    def wrap(argv: list[str]) -> list[str]:
        program = shutil.which(BWRAP) or BWRAP
        return [program, *_BASE, *binds, "--chdir", str(workspace), "--", *_runnable(argv)]

    return wrap


def _runnable(argv: list[str]) -> list[str]:
    """An executable script without a `#!` line runs with bash, as the executor does unsandboxed
    (bwrap's exec would fail with ENOEXEC, and the step would look like a failing test)."""
    path = Path(argv[0])
    if path.is_absolute() and path.is_file():
        try:
            with path.open("rb") as handle:
                head = handle.read(4)
        except OSError:
            return argv
        if not head.startswith(b"#!") and head != b"\x7fELF":
            return ["bash", *argv]
    return argv
